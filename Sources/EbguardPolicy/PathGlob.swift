/// One component test of a path pattern.
public enum GlobToken: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this component.
    case literal(String)
    /// A component with one `*`: it starts with `prefix`, ends with `suffix`, and is at least as
    /// long as both (the `*` matches any bytes but `/`, none included).
    case star(prefix: String, suffix: String)
    /// `**`: zero or more whole components.
    case any

    public var description: String {
        switch self {
        case .literal(let text): text
        case .star(let prefix, let suffix): prefix + "*" + suffix
        case .any: "**"
        }
    }

    /// Reads one component of a policy pattern: `**`, one `*` somewhere, or none.
    /// Throws for what the kernel's matcher cannot decide exactly.
    static func parse(_ component: String, in raw: String) throws(PolicyValueError) -> GlobToken {
        if component == "**" { return .any }
        if component.contains("**") {
            throw PolicyValueError("'**' must be a whole path component (as in 'dir/**/name'), not part of '\(component)' in '\(raw)'")
        }
        if let bad = component.first(where: { PathPattern.unsupportedGlobCharacters.contains($0) }) {
            throw PolicyValueError("unsupported glob character '\(bad)' in '\(raw)': patterns have '*' (within a component) and '**' (whole components) only")
        }
        let stars = component.utf8.filter { $0 == UInt8(ascii: "*") }.count
        if stars == 0 { return .literal(component) }
        if stars > 1 {
            throw PolicyValueError("'\(component)' in '\(raw)' has \(stars) '*': a component takes at most one (the kernel matches prefix*suffix)")
        }
        let bytes = Array(component.utf8)
        let star = bytes.firstIndex(of: UInt8(ascii: "*"))!
        return .star(prefix: String(decoding: bytes[..<star], as: UTF8.self),
                     suffix: String(decoding: bytes[(star + 1)...], as: UTF8.self))
    }

    /// Whether this (non-`**`) token accepts one component.
    func accepts(_ component: ArraySlice<UInt8>) -> Bool {
        switch self {
        case .literal(let text): return component.elementsEqual(text.utf8)
        case .star(let prefix, let suffix):
            let p = Array(prefix.utf8), s = Array(suffix.utf8)
            return component.count >= p.count + s.count && component.starts(with: p) && component.suffix(s.count).elementsEqual(s)
        case .any: return false
        }
    }

    var isWildcard: Bool {
        if case .literal = self { return false }
        return true
    }
}

/// A compiled path pattern: tokens from the root, `~` and `${workspace}` already expanded.
///
/// The userspace reference for the kernel's pattern check (bpf/lib/path_match.h): `matches`
/// is the plain recursive definition, which the kernel's segment-by-segment walk must agree
/// with (unit tests and the VM table test compare them).
public struct PathGlob: Sendable, Hashable, CustomStringConvertible {
    public var tokens: [GlobToken]
    /// A `name:` pattern (`/**/NAME`), which ranks below every path rule.
    public var isName: Bool

    /// Adjacent `**` collapse into one: they match what one does.
    public init(tokens: [GlobToken], isName: Bool = false) {
        var collapsed: [GlobToken] = []
        for token in tokens where !(token == .any && collapsed.last == .any) { collapsed.append(token) }
        self.tokens = collapsed
        self.isName = isName
    }

    /// Whether `path` (absolute, normalized) is matched.
    public func matches(_ path: String) -> Bool {
        matches(components: Array(path.utf8).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true))
    }

    /// Whether a path split into `components` (UTF-8 bytes, from the root) is matched.
    func matches(components: [ArraySlice<UInt8>]) -> Bool {
        var memo: [Int: Bool] = [:]
        func match(_ t: Int, _ c: Int) -> Bool {
            let key = t * 1024 + c
            if let known = memo[key] { return known }
            let result: Bool
            if t == tokens.count {
                result = c == components.count
            } else if tokens[t] == .any {
                result = (c...components.count).contains { match(t + 1, $0) }
            } else {
                result = c < components.count && tokens[t].accepts(components[c]) && match(t + 1, c + 1)
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }

    /// The leading literal components: the kernel's anchor directory for the pattern.
    public var head: [String] {
        var result: [String] = []
        for token in tokens {
            guard case .literal(let text) = token else { break }
            result.append(text)
        }
        return result
    }

    /// The tokens after `head`.
    public var tail: ArraySlice<GlobToken> { tokens[head.count...] }

    /// Precedence: bytes of the pattern before its first `*` (`/home/*/.ssh/**`: 6, `/**/x`: 1);
    /// 0 for a `name:` pattern. Exact paths rank 511, subtrees `len("/dir/")`.
    public var rank: Int {
        if isName { return 0 }
        var bytes = 1  // the leading "/"
        for token in tokens {
            switch token {
            case .literal(let text): bytes += text.utf8.count + 1
            case .star(let prefix, _): return bytes + prefix.utf8.count
            case .any: return bytes
            }
        }
        return bytes
    }

    /// `/home/u/**/.env`, or `name *.pem` for a name pattern.
    public var description: String {
        if isName, tokens.count == 2 { return "name \(tokens[1])" }
        return "/" + tokens.map(\.description).joined(separator: "/")
    }
}
