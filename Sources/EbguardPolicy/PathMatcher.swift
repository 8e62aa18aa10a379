/// A compiled path matcher: absolute and normalized, ready to compare with the kernel's paths.
public enum PathMatcher: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this path.
    case exact(String)
    /// This directory and everything under it (`/` for the whole tree).
    case subtree(String)
    /// Any path whose last component is this name.
    case basename(String)

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
        }
    }

    /// How specific a match is: exact > longer subtree > shorter subtree > basename.
    public var specificity: PathSpecificity {
        switch self {
        case .exact: PathSpecificity(tier: 3, depth: 0)
        case .subtree(let dir): PathSpecificity(tier: 2, depth: LexicalPath.components(dir).count)
        case .basename: PathSpecificity(tier: 1, depth: 0)
        }
    }

    /// `exact`, `subtree` or `name`, as `policy show` prints it.
    public var kind: String {
        switch self {
        case .exact: "exact"
        case .subtree: "subtree"
        case .basename: "name"
        }
    }

    /// The path or name without decoration.
    public var value: String {
        switch self {
        case .exact(let p), .subtree(let p), .basename(let p): p
        }
    }

    /// `/etc/shadow`, `/home/u/.ssh/**`, `name .env`.
    public var description: String {
        switch self {
        case .exact(let p): p
        case .subtree(let dir): dir == "/" ? "/**" : dir + "/**"
        case .basename(let name): "name " + name
        }
    }
}

/// The precedence key of a path match; greater is more specific.
///
/// Two subtrees that both contain a path are nested, so comparing depths compares lengths.
public struct PathSpecificity: Sendable, Hashable, Comparable {
    /// 3 exact, 2 subtree, 1 basename.
    public var tier: Int
    /// Number of components of a subtree's directory; 0 otherwise.
    public var depth: Int

    public static func < (lhs: PathSpecificity, rhs: PathSpecificity) -> Bool {
        (lhs.tier, lhs.depth) < (rhs.tier, rhs.depth)
    }
}
