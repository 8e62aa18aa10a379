/// Where a policy path starts before it is compiled against a `PolicyContext`.
public enum PathAnchor: String, Sendable, Hashable, Codable {
    /// An absolute path: `/etc/shadow`.
    case root
    /// `~` or `${home}`: the home of the user who started the session.
    case home
    /// `${workspace}`: the directory the session started in.
    case workspace
}

/// A validated, still unexpanded `path:` value: an anchor, normalized components, and whether it
/// names a whole subtree (a trailing `/**`). Components may be patterns: one `*` within a
/// component, or `**` as a whole component (`isGlob`).
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    public var anchor: PathAnchor
    /// Components below the anchor; never empty strings, `.` or `..`; `**` or with one `*` when
    /// `isGlob`.
    public var components: [String]
    /// `true` for `dir/**`: the directory itself and everything under it.
    public var isSubtree: Bool

    /// The most component tests after a pattern's first wildcard the kernel checks
    /// (EG_GLOB_TOKENS in bpf/ebguard.h).
    public static let maxPatternTokens = 16

    /// Whether a component has a `*` (a trailing `/**` alone is a subtree, not a pattern).
    public var isGlob: Bool { components.contains { $0.utf8.contains(UInt8(ascii: "*")) } }

    public init(anchor: PathAnchor, components: [String], isSubtree: Bool) {
        self.anchor = anchor
        self.components = components
        self.isSubtree = isSubtree
    }

    /// Parses a policy path: `/abs`, `~`, `~/rel`, `${home}/rel`, `${workspace}/rel`, each with an
    /// optional trailing `/**`. Normalizes `//`, `/./` and a trailing `/`; rejects `..`, relative
    /// paths, unknown variables and every glob but a trailing `/**`.
    public init(parsing raw: String) throws(PolicyValueError) {
        if raw.isEmpty { throw PolicyValueError("empty path") }
        if raw.contains("\0") { throw PolicyValueError("path contains a NUL byte") }
        let rest: Substring
        if raw == "~" || raw.hasPrefix("~/") {
            anchor = .home
            rest = raw.dropFirst()
        } else if raw.hasPrefix("~") {
            throw PolicyValueError("'\(raw)': only '~' alone (the session user's home) may start a path, not '~user'")
        } else if raw.hasPrefix("${") {
            guard let close = raw.firstIndex(of: "}") else {
                throw PolicyValueError("unterminated variable in '\(raw)'")
            }
            let name = raw[raw.index(raw.startIndex, offsetBy: 2)..<close]
            switch name {
            case "home": anchor = .home
            case "workspace": anchor = .workspace
            default:
                throw PolicyValueError("unknown variable '${\(name)}' in '\(raw)' (only ${workspace} and ${home} are defined)")
            }
            rest = raw[raw.index(after: close)...]
            if !rest.isEmpty && !rest.hasPrefix("/") {
                throw PolicyValueError("'${\(name)}' must be followed by '/' or end the path in '\(raw)'")
            }
        } else if raw.hasPrefix("/") {
            anchor = .root
            rest = raw[...]
        } else if raw.hasPrefix("$") {
            throw PolicyValueError("'\(raw)': environment variables are not expanded; use ${home} or ${workspace}")
        } else {
            throw PolicyValueError("path '\(raw)' is not absolute (start it with '/', '~/' or '${workspace}/')")
        }
        if rest.contains("$") {
            throw PolicyValueError("'\(raw)': a variable may only start a path")
        }
        var parts = LexicalPath.split(String(rest))
        // `a/**/**` is `a/**`: adjacent `**` match what one does.
        while parts.count >= 2, parts.last == "**", parts[parts.count - 2] == "**" { parts.removeLast() }
        isSubtree = parts.last == "**"
        if isSubtree { parts.removeLast() }
        components = []
        var tokens: [GlobToken] = []
        for part in parts {
            if part == "." { continue }
            if part == ".." {
                throw PolicyValueError("'..' is not allowed in paths (rules must be unambiguous): '\(raw)'")
            }
            let token = try GlobToken.parse(part, in: raw)
            if token == .any, components.last == "**" { continue }
            tokens.append(token)
            components.append(part)
        }
        // What the kernel checks after the literal head (bpf/lib/path_match.h): bounded.
        if let first = tokens.firstIndex(where: \.isWildcard) {
            let checked = tokens.count - first + (isSubtree ? 1 : 0)
            if checked > Self.maxPatternTokens {
                throw PolicyValueError("'\(raw)' has \(checked) components from its first wildcard on; the kernel checks at most \(Self.maxPatternTokens)")
            }
        }
    }

    /// A `unix:` socket path: exact, `dir/**` or a pattern, in the forms and within the bounds
    /// of `path:` (the Unix socket hooks decide them with the same path matcher,
    /// bpf/lib/unix_match.h). A socket name has at most `maxSocketPath` bytes; an exact path
    /// longer than that is refused when it is compiled (`~` and `${workspace}` expanded).
    public init(parsingUnix raw: String) throws(PolicyValueError) {
        try self.init(parsing: raw)
    }

    /// sun_path's size: the longest name a Unix socket can be bound at (EG_UNIX_PATH_MAX).
    public static let maxSocketPath = 108

    /// Characters that would make a path a glob the matcher does not have; `{` because `{a,b}`
    /// reads like brace expansion.
    static let unsupportedGlobCharacters: Set<Character> = ["?", "[", "{"]

    /// The canonical spelling: `/etc/shadow`, `~/.ssh/**`, `${workspace}/**`, `/**`.
    public var description: String {
        let prefix: String
        switch anchor {
        case .root: prefix = ""
        case .home: prefix = "~"
        case .workspace: prefix = "${workspace}"
        }
        var text = prefix + components.map { "/" + $0 }.joined()
        if isSubtree { text += "/**" }
        return text.isEmpty ? "/" : text
    }

    /// The absolute path this pattern names once `~`, `${home}` and `${workspace}` are replaced.
    public func expandedPath(in context: PolicyContext) -> String {
        let base: String
        switch anchor {
        case .root: base = "/"
        case .home: base = context.home
        case .workspace: base = context.workspace
        }
        return LexicalPath.join(base, components)
    }

    /// The compiled matcher for this pattern in `context`.
    public func matcher(in context: PolicyContext) -> PathMatcher {
        if isGlob {
            let base: String
            switch anchor {
            case .root: base = "/"
            case .home: base = context.home
            case .workspace: base = context.workspace
            }
            // Each component of a pattern was checked when it was parsed.
            let tokens = LexicalPath.components(base).map(GlobToken.literal)
                + components.map { (try? GlobToken.parse($0, in: "")) ?? .literal($0) }
                + (isSubtree ? [.any] : [])
            return .glob(PathGlob(tokens: tokens))
        }
        let path = expandedPath(in: context)
        return isSubtree ? .subtree(path) : .exact(path)
    }
}

/// A `name:` value: one path component matched against the last component of a path.
public enum BasenamePattern {
    /// Validates a basename: non-empty, no `/`, not `.` or `..`, at most one `*` and no other
    /// glob characters.
    public static func validate(_ name: String) throws(PolicyValueError) -> String {
        if name.isEmpty { throw PolicyValueError("empty name") }
        if name.contains("/") {
            throw PolicyValueError("'name' is a single path component and cannot contain '/': use 'path' for '\(name)'")
        }
        if name == "." || name == ".." { throw PolicyValueError("'\(name)' is not a file name") }
        if name.contains("\0") { throw PolicyValueError("name contains a NUL byte") }
        if name == "**" { throw PolicyValueError("'name: **' would match every path: use 'path: /**'") }
        _ = try GlobToken.parse(name, in: "name: " + name)
        return name
    }

    /// `.basename` for a plain name, a name pattern (`/**/NAME`, ranked as a name) for one with `*`.
    public static func matcher(_ name: String) -> PathMatcher {
        guard let token = try? GlobToken.parse(name, in: name), token.isWildcard else { return .basename(name) }
        return .glob(PathGlob(tokens: [.any, token], isName: true))
    }
}

/// Purely lexical path handling: no file system access, no symlink resolution.
///
/// Works on UTF-8 bytes, as the kernel does: Swift's `String` comparison uses canonical
/// equivalence, which would make two different file names equal.
enum LexicalPath {
    /// Splits at every `/` byte, dropping empty components.
    static func split(_ path: String) -> [String] {
        path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Splits an absolute path into components, dropping empty ones and `.`; `..` is kept as is.
    static func components(_ path: String) -> [String] {
        split(path).filter { $0 != "." }
    }

    /// Byte-wise equality.
    static func same(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    /// `/a//b/./c/` -> `/a/b/c`; `..` is kept literally (the kernel's resolved paths have none).
    static func normalize(_ path: String) -> String {
        "/" + components(path).joined(separator: "/")
    }

    static func join(_ base: String, _ more: [String]) -> String {
        normalize(base + "/" + more.joined(separator: "/"))
    }
}
