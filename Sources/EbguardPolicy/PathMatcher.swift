/// A compiled path matcher: absolute and normalized, ready to compare with the kernel's paths.
public enum PathMatcher: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this path.
    case exact(String)
    /// This directory and everything under it (`/` for the whole tree).
    case subtree(String)
    /// Any path whose last component is this name.
    case basename(String)
    /// A pattern: `*` within a component, `**` for whole components (or a `name:` with `*`).
    case glob(PathGlob)

    /// Whether `path` (absolute, as the kernel resolved it) is matched.
    public func matches(_ path: String) -> Bool {
        switch self {
        case .exact(let p):
            return LexicalPath.same(path, p)
        case .subtree(let dir):
            let bytes = path.utf8, prefix = dir.utf8
            guard bytes.starts(with: prefix) else { return false }
            if prefix.last == UInt8(ascii: "/") { return true }
            let next = bytes.dropFirst(prefix.count).first
            return next == nil || next == UInt8(ascii: "/")
        case .basename(let name):
            return LexicalPath.split(path).last.map { LexicalPath.same($0, name) } ?? false
        case .glob(let glob):
            return glob.matches(path)
        }
    }

    /// Whether a Unix socket's bound name is matched as the kernel matches it
    /// (bpf/lib/unix_match.h): the name as bound, not normalized, byte for byte; its components
    /// are the bytes between its `/`, empty ones (`//`) included. Names bound relative to the
    /// server's directory match no rule (rules are absolute).
    public func matchesSocketName(_ name: String) -> Bool {
        guard name.utf8.first == UInt8(ascii: "/") else { return false }
        guard case .glob(let glob) = self else { return matches(name) }
        let bytes = Array(name.utf8).dropFirst()
        return glob.matches(components: bytes.isEmpty ? [] : bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false))
    }

    /// How specific a match is: the count of literal bytes before the first wildcard (the
    /// kernel's rank, bpf/lib/path_match.h): an exact path 511, above any; `/dir/**` the
    /// bytes of `/dir/` (`/**`: 1); a pattern the bytes before its first `*`; a name 0.
    public var specificity: PathSpecificity {
        switch self {
        case .exact: PathSpecificity(rank: Self.exactRank)
        case .subtree(let dir): PathSpecificity(rank: dir == "/" ? 1 : dir.utf8.count + 1)
        case .basename: PathSpecificity(rank: 0)
        case .glob(let glob): PathSpecificity(rank: glob.rank)
        }
    }

    /// EG_RANK_EXACT.
    public static let exactRank = 511

    /// `exact`, `subtree`, `name`, `pattern` or `name pattern`, as `policy show` prints it.
    public var kind: String {
        switch self {
        case .exact: "exact"
        case .subtree: "subtree"
        case .basename: "name"
        case .glob(let glob): glob.isName ? "name pattern" : "pattern"
        }
    }

    /// The path or name without decoration.
    public var value: String {
        switch self {
        case .exact(let p), .subtree(let p), .basename(let p): p
        case .glob(let glob): glob.isName ? glob.tokens.last!.description : glob.description
        }
    }

    /// `/etc/shadow`, `/home/u/.ssh/**`, `name .env`, `/home/u/**/*.pem`, `name id_*`.
    public var description: String {
        switch self {
        case .exact(let p): p
        case .subtree(let dir): dir == "/" ? "/**" : dir + "/**"
        case .basename(let name): "name " + name
        case .glob(let glob): glob.description
        }
    }
}

/// The precedence key of a path match; greater is more specific: literal bytes before the
/// first wildcard (see `PathMatcher.specificity`). For a path two subtrees both contain, the
/// longer one has more.
public struct PathSpecificity: Sendable, Hashable, Comparable {
    public var rank: Int

    public init(rank: Int) { self.rank = rank }

    public static func < (lhs: PathSpecificity, rhs: PathSpecificity) -> Bool { lhs.rank < rhs.rank }
}
