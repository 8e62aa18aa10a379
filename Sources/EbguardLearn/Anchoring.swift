import EbguardPolicy

/// Writes absolute paths the way a person writes them in a policy: `${workspace}/...` under the
/// workspace, `~/...` under the home, absolute elsewhere; and back.
public struct Anchoring: Sendable, Hashable {
    public enum Anchor: Int, Sendable, Hashable, Comparable {
        case root, home, workspace
        public static func < (a: Anchor, b: Anchor) -> Bool { a.rawValue < b.rawValue }
        var spelling: String {
            switch self {
            case .root: ""
            case .home: "~"
            case .workspace: "${workspace}"
            }
        }
    }

    public let context: PolicyContext

    public init(_ context: PolicyContext) { self.context = context }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// The anchor a path falls under (the workspace first: it is usually inside the home) and
    /// its components below it. A home or workspace of `/` anchors nothing.
    public func split(_ absolute: String) -> (anchor: Anchor, components: [String]) {
        let comps = Self.components(absolute)
        for (anchor, base) in [(Anchor.workspace, context.workspace), (.home, context.home)] where base != "/" {
            let b = Self.components(base)
            if comps.count >= b.count, Array(comps.prefix(b.count)) == b { return (anchor, Array(comps.dropFirst(b.count))) }
        }
        return (.root, comps)
    }

    /// `${workspace}/src/**`, `~/.cache/**`, `/usr/lib/**` for an anchor and components.
    public func text(_ anchor: Anchor, _ components: [String]) -> String {
        let text = anchor.spelling + components.map { "/" + $0 }.joined()
        return text.isEmpty ? "/" : text
    }

    public func text(_ absolute: String) -> String {
        let (anchor, comps) = split(absolute)
        return text(anchor, comps)
    }

    /// The absolute components of a policy path (`~` and `${workspace}` expanded).
    public func absoluteComponents(_ text: String) -> [String] {
        if text == "~" || text.hasPrefix("~/") { return Self.components(context.home) + Self.components(String(text.dropFirst())) }
        if text.hasPrefix("${workspace}") {
            return Self.components(context.workspace) + Self.components(String(text.dropFirst("${workspace}".count)))
        }
        return Self.components(text)
    }

    /// Why a component cannot be written in a path rule (it would read as a pattern or a
    /// variable), or nil.
    static func unwritable(_ component: String) -> Character? {
        component.first { "*?[{$\\".contains($0) } ?? (component.contains("\0") ? "\0" : nil)
    }
}
