import EbguardEnforcement
import EbguardPolicy
import Foundation
import Glibc

/// Answers given with scope `always`, kept per policy as rules in a policy file of their own
/// (`<directory>/<policy name>.yaml`), so approving teaches the policy: an operator can read
/// it, edit it, or merge it into the policy. Every session of that policy loads it as its
/// first answers, bound to the objects those paths and addresses name when it starts.
struct OverlayStore {
    let directory: String

    func path(forPolicy name: String) -> String {
        let safe = name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }
        return directory + "/" + String(safe) + ".yaml"
    }

    /// Appends one rule line (YAML flow mapping) under `domain:`, creating the file first.
    func append(policy: String, domain: String, rule: String, comment: String) throws {
        let file = path(forPolicy: policy)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? """
        # Answers given with scope "always" in ebguard prompts for policy \(policy).
        # Written by ebguard; sessions of that policy load these rules as approved answers.
        version: 1
        name: \(policy)-overlay
        exec: []
        file: []
        network: []

        """
        // Each domain starts as `domain: []`; the first rule turns it into a block list.
        if text.contains("\n\(domain): []\n") {
            text = text.replacingOccurrences(of: "\n\(domain): []\n", with: "\n\(domain):\n")
        }
        guard let range = text.range(of: "\n\(domain):\n") else {
            throw ControlError("overlay", "\(file) has no \(domain): list; fix or remove it")
        }
        text.insert(contentsOf: "  # \(comment)\n  - \(rule)\n", at: range.upperBound)
        let temporary = file + ".tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, file) == 0 else { throw ControlError("overlay", "cannot write \(file)") }
    }

    /// The overlay of `policy`, compiled for a session's context; nil when there is none.
    func load(policy: String, context: PolicyContext) throws -> CompiledPolicy? {
        let file = path(forPolicy: policy)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try Policy.load(path: file).compile(in: context)
    }

    /// YAML scalar, quoted when it could be read as something else.
    static func scalar(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "/._-+@=".contains($0) } && !text.isEmpty
            && !text.hasPrefix("-") && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(text.lowercased())
        return plain ? text : JSONText.quoted(text)
    }
}
