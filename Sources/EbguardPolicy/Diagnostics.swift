/// A position in a policy file: the file name as the caller gave it, 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form editors and compilers use; just `file` when line is 0
    /// (a problem with the whole file, such as failing to read it).
    public var description: String { line == 0 ? file : "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// One thing wrong with a policy, pointing at where it is.
public struct PolicyDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    /// `file:line:column: message`.
    public var description: String { "\(location): \(message)" }
}

/// A policy that cannot be used: every problem found, in file order.
///
/// Parsing never returns a partial `Policy`; when this is thrown there is no policy at all.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [PolicyDiagnostic]

    public init(_ diagnostics: [PolicyDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Something legal but probably not what the author meant (a rule that never decides anything).
public struct PolicyWarning: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var rule: RuleID
    public var message: String

    public init(location: SourceLocation, rule: RuleID, message: String) {
        self.location = location
        self.rule = rule
        self.message = message
    }

    /// `file:line:column: warning: message`.
    public var description: String { "\(location): warning: \(message)" }
}

/// A problem with one value in a policy; the parser adds the location.
public struct PolicyValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
