/// A domain name as it travels on the wire, with one canonical text form for matching.
///
/// `labels` keep the bytes (and letter case) the client sent, so a forwarded question echoes back
/// exactly as asked (clients that randomise case, "0x20", check that). `text` is what policy
/// matching sees: ASCII lowercased, no trailing dot, and every byte outside `[a-z0-9_-]` written as
/// `\DDD` (RFC 1035 §5.1). Escaping keeps the text unambiguous: a label holding a dot
/// (`["api.github", "com"]`) must never read like the three-label name `api.github.com`, and a
/// control character or `*` must never reach an event or a wildcard match as itself.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// RFC 1035 §2.3.4: 63 bytes per label, 255 bytes for the whole name in wire form.
    public static let maxLabelLength = 63
    public static let maxWireLength = 255

    public let labels: [[UInt8]]
    public let text: String

    /// The root name (no labels); its text is "".
    public static let root = DNSName(checkedLabels: [])

    public init(labels: [[UInt8]]) throws(DNSNameError) {
        var wireLength = 1
        for label in labels {
            guard !label.isEmpty else { throw .emptyLabel }
            guard label.count <= Self.maxLabelLength else { throw .labelTooLong(label.count) }
            wireLength += 1 + label.count
        }
        guard wireLength <= Self.maxWireLength else { throw .nameTooLong(wireLength) }
        self.init(checkedLabels: labels)
    }

    /// Parses dotted text such as `api.github.com` (one trailing dot allowed). No escapes: this is
    /// for names a program or test writes, not for presentation-format round trips.
    public init(_ text: String) throws(DNSNameError) {
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        if body.isEmpty { self = .root; return }
        try self.init(labels: body.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) })
    }

    private init(checkedLabels labels: [[UInt8]]) {
        self.labels = labels
        self.text = labels.map(Self.canonical).joined(separator: ".")
    }

    /// Length of the uncompressed wire form, including the final zero byte.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    public var description: String { text.isEmpty ? "." : text }

    /// Equality ignores ASCII case (RFC 4343), which is what the canonical text encodes.
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    private static func canonical(_ label: [UInt8]) -> String {
        var out = ""
        out.reserveCapacity(label.count)
        for byte in label {
            let lower = (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte
            switch lower {
            case 0x61...0x7A, 0x30...0x39, 0x2D, 0x5F:   // a-z 0-9 - _
                out.unicodeScalars.append(Unicode.Scalar(lower))
            default:
                let digits = String(lower)
                out += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            }
        }
        return out
    }
}

/// Why bytes or text do not form a valid domain name.
public enum DNSNameError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyLabel
    case labelTooLong(Int)
    case nameTooLong(Int)

    public var description: String {
        switch self {
        case .emptyLabel: "empty label in domain name"
        case .labelTooLong(let n): "domain name label of \(n) bytes (at most \(DNSName.maxLabelLength))"
        case .nameTooLong(let n): "domain name of \(n) bytes in wire form (at most \(DNSName.maxWireLength))"
        }
    }
}
