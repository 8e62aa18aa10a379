/// What a policy is compiled against: the session user's home and the session's workspace.
///
/// The caller decides these (see `ebguard run`); nothing is read from the environment here, so the
/// same policy and context always compile to the same rules.
public struct PolicyContext: Sendable, Hashable {
    /// Absolute, normalized home of the user who started the session (`~`, `${home}`).
    public let home: String
    /// Absolute, normalized workspace (`${workspace}`).
    public let workspace: String

    /// Validates both paths: they must be absolute and free of `..`; `//`, `/./` and trailing `/`
    /// are normalized away.
    public init(home: String, workspace: String) throws(PolicyValueError) {
        self.home = try Self.check(home, what: "home")
        self.workspace = try Self.check(workspace, what: "workspace")
    }

    private static func check(_ path: String, what: String) throws(PolicyValueError) -> String {
        guard path.hasPrefix("/") else {
            throw PolicyValueError("\(what) '\(path)' is not an absolute path")
        }
        if LexicalPath.components(path).contains("..") {
            throw PolicyValueError("\(what) '\(path)' contains '..'")
        }
        return LexicalPath.normalize(path)
    }
}
