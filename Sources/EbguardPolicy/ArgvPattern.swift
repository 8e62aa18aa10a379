/// The `argv:` of an exec rule: tokens that must appear, in order, in a command's arguments.
///
/// Semantics (docs/policy.md, "argv"):
/// - `argv[0]` (the program name) is ignored; tokens are sought in `argv[1...]`.
/// - A token `--long` (or `--long=value`) and an operand match one argument exactly.
/// - A token `-xyz` (a dash and one or more characters, not `--`) is a set of short flags.
///   Consecutive short-flag tokens in a rule form one set, so `[-r, -f]` equals `[-rf]`.
///   A set matches the shortest run of arguments after the previous match whose short-flag
///   clusters together hold every one of its letters: `[-rf]` matches `-rf`, `-fr`, `-r -f`,
///   `-f -r`, `-rfv`, `-r x -f`; not `-r` alone.
/// - Arguments after a `--` argument are operands, never flags.
/// - Tokens match as a subsequence: other arguments may come before, between and after them.
public struct ArgvPattern: Sendable, Hashable, CustomStringConvertible {
    /// The tokens as written in the policy.
    public let tokens: [String]
    let elements: [Element]

    enum Element: Hashable {
        case exact(String)
        case shortFlags(Set<Character>)
    }

    /// Builds a pattern; nil for an empty token list or an empty token.
    public init?(_ tokens: [String]) {
        guard !tokens.isEmpty, !tokens.contains(where: \.isEmpty) else { return nil }
        self.tokens = tokens
        var elements: [Element] = []
        for token in tokens {
            if let letters = Self.shortFlags(token) {
                if case .shortFlags(let previous)? = elements.last {
                    elements[elements.count - 1] = .shortFlags(previous.union(letters))
                } else {
                    elements.append(.shortFlags(letters))
                }
            } else {
                elements.append(.exact(token))
            }
        }
        self.elements = elements
    }

    /// The letters of a short-flag cluster (`-rf` -> r, f); nil for `-`, `--x` and operands.
    static func shortFlags(_ arg: String) -> Set<Character>? {
        guard arg.count >= 2, arg.hasPrefix("-"), !arg.hasPrefix("--") else { return nil }
        return Set(arg.dropFirst())
    }

    /// Whether the command line `argv` (with `argv[0]`) matches.
    public func matches(_ argv: [String]) -> Bool {
        // Classify each argument once; after `--`, everything is an operand.
        var args: [(text: String, flags: Set<Character>?)] = []
        var optionsEnded = false
        for arg in argv.dropFirst() {
            args.append((arg, optionsEnded ? nil : Self.shortFlags(arg)))
            if arg == "--" { optionsEnded = true }
        }
        // Greedy leftmost matching is optimal here: matching an element earlier never leaves
        // fewer arguments for the elements after it.
        var cursor = 0
        for element in elements {
            switch element {
            case .exact(let token):
                guard let i = args[cursor...].firstIndex(where: { $0.text.utf8.elementsEqual(token.utf8) }) else { return false }
                cursor = i + 1
            case .shortFlags(let wanted):
                var missing = wanted
                var i = cursor
                while !missing.isEmpty {
                    guard i < args.count else { return false }
                    if let flags = args[i].flags { missing.subtract(flags) }
                    i += 1
                }
                cursor = i
            }
        }
        return true
    }

    /// The tokens separated by spaces.
    public var description: String { tokens.joined(separator: " ") }
}
