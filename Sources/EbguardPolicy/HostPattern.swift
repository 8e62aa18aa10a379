/// The `host:` of a network rule: a DNS name, a wildcard over the names under a suffix, or every
/// name. Names are compared in lower case without a trailing dot, as the resolver sees them.
///
/// `*.npmjs.org` matches `registry.npmjs.org` and `a.b.npmjs.org` (one or more labels under the
/// suffix) but not `npmjs.org` itself: a rule for both is two rules. `*` alone matches every name.
public enum HostPattern: Sendable, Hashable, CustomStringConvertible {
    case exact(String)
    /// The names under `suffix` (not the suffix itself).
    case wildcard(suffix: String)
    case any

    public struct ParseError: Error, Equatable {
        public var message: String
    }

    public init(parsing text: String) throws {
        var name = text.lowercased()
        if name == "*" {
            self = .any
            return
        }
        if name.hasSuffix(".") { name.removeLast() }
        var wildcard = false
        if name.hasPrefix("*.") {
            wildcard = true
            name.removeFirst(2)
        }
        try Self.validate(name, original: text)
        self = wildcard ? .wildcard(suffix: name) : .exact(name)
    }

    /// What the DNS allows a name to be: ASCII labels of letters, digits, `-` and `_` (SRV-style
    /// names), 1-63 bytes each, 253 in all. International names are written in their `xn--` form,
    /// which is what a resolver is asked for.
    static func validate(_ name: String, original: String) throws {
        guard !name.isEmpty else { throw ParseError(message: "host '\(original)' names no host") }
        if name.contains("*") {
            throw ParseError(message: "host '\(original)': '*' is allowed only as the whole first label ('*.example.com') or alone ('*')")
        }
        guard name.utf8.count <= 253 else { throw ParseError(message: "host '\(original)' is longer than 253 characters") }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw ParseError(message: "host '\(original)' has an empty label") }
            guard label.utf8.count <= 63 else {
                throw ParseError(message: "host '\(original)' has a label longer than 63 characters")
            }
            for byte in label.utf8 where !(byte.isASCIILetterOrDigit || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")) {
                let shown = byte < 0x80 ? "'\(Character(Unicode.Scalar(byte)))'" : "a non-ASCII character"
                throw ParseError(message: "host '\(original)' contains \(shown); write international names in their xn-- form")
            }
        }
    }

    /// Whether the (lower-case, dot-less) `name` is one this pattern covers.
    public func matches(_ name: String) -> Bool {
        switch self {
        case .exact(let host): name == host
        case .wildcard(let suffix): name.count > suffix.count + 1 && name.hasSuffix("." + suffix)
        case .any: true
        }
    }

    /// How closely the pattern names a host: exact names first, then wildcards by the length of
    /// their suffix (`*.a.example.com` before `*.example.com`), then `*`.
    public var specificity: Int {
        switch self {
        case .exact: Int.max
        case .wildcard(let suffix): 1 + suffix.split(separator: ".").count
        case .any: 0
        }
    }

    public var description: String {
        switch self {
        case .exact(let host): host
        case .wildcard(let suffix): "*." + suffix
        case .any: "*"
        }
    }

    /// The name as the resolver and the events spell it: lower case, no trailing dot.
    public static func canonical(_ name: String) -> String {
        var name = name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }
}

extension UInt8 {
    var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
