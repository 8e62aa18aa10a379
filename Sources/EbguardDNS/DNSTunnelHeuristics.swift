import Foundation

/// Signs that a name under an allowed wildcard carries data rather than naming a host.
///
/// A wildcard such as `*.example.com` lets the session ask for any name below it, and every such
/// question reaches example.com's authoritative servers: whoever runs them reads the labels. DNS
/// tunnels (iodine, dnscat2, exfiltration one-liners) pack data into exactly those labels, as
/// long base32/base64/hex runs. Names people and CDNs use are short words or short random ids.
/// These are flags for the event, not verdicts: the name still resolves if the policy allows it.
public enum DNSTunnelHeuristics {
    /// Real host labels rarely pass 30 characters; tunnels fill labels towards the 63-byte limit.
    public static let maxLabelLength = 40
    /// Tunnels use every byte of the 255 available; registry and CDN names stay well under 100.
    public static let maxNameLength = 100
    /// Shannon entropy (bits per character) at which a label looks like encoded data: English-like
    /// and word-joined labels sit near 3 bits, random hex near 3.7-4, base32 near 4.3.
    public static let entropyThreshold = 3.5
    /// Below this length entropy is too noisy to mean anything (any 12 distinct letters give 3.58).
    public static let entropyMinLength = 16

    /// Flags for `name` (canonical text) below `suffix` (the wildcard's suffix, e.g.
    /// `pythonhosted.org`); only the labels left of the suffix are judged, since the suffix is
    /// the policy author's. Empty when nothing looks suspicious.
    public static func flags(name: String, under suffix: String) -> [String] {
        var flags: [String] = []
        if name.count > maxNameLength {
            flags.append("name is \(name.count) characters long (over \(maxNameLength))")
        }
        var prefix = Substring(name)
        if !suffix.isEmpty, name.hasSuffix("." + suffix) { prefix = prefix.dropLast(suffix.count + 1) }
        for label in prefix.split(separator: ".") {
            if label.count > maxLabelLength {
                flags.append("label '\(label)' is \(label.count) characters long (over \(maxLabelLength))")
            }
            if label.count >= entropyMinLength {
                let bits = entropy(of: label)
                if bits >= entropyThreshold {
                    flags.append("label '\(label)' looks encoded: \(String(format: "%.2f", bits)) bits per character")
                }
            }
        }
        return flags
    }

    /// Shannon entropy of the characters of `text`, in bits per character.
    public static func entropy(of text: some StringProtocol) -> Double {
        var counts: [Character: Int] = [:]
        for character in text { counts[character, default: 0] += 1 }
        let total = Double(text.count)
        guard total > 0 else { return 0 }
        return counts.values.reduce(0) { sum, count in
            let p = Double(count) / total
            return sum - p * log2(p)
        }
    }
}
