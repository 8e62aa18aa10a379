import EbguardPolicy

/// Policies the daemon compiled lately, by everything they were compiled from.
///
/// An agent's sessions start again and again under the same policy file, and parsing and
/// compiling it was most of what registering a session cost (6 of 10 ms for agent.yaml).
/// Compiling is a pure function of the policy's text, the name its diagnostics use, the home
/// and the workspace (`PolicyContext`), so those four are the key, the text whole: an edited
/// file is another key whatever its time stamps say, and nothing stale can be returned.
/// Failures are not kept (a bad policy is reported afresh each time). Used by the daemon's
/// loop only.
final class CompiledPolicies {
    /// A policy as the daemon enforces it, and what `ebguard run` applies to the command
    /// itself that the compiled form does not hold (no_new_privs is in `policy`).
    struct Compiled: Sendable, Equatable {
        var policy: CompiledPolicy
        /// The policy's `capabilities:`, as the parser normalized them.
        var capabilities: [String]
    }

    struct Key: Hashable {
        var source: String
        var yaml: String
        var home: String
        var workspace: String
    }

    /// The newest last; a few policies, each a few hundred KB at most once compiled.
    private var entries: [(key: Key, compiled: Compiled)] = []
    let capacity: Int
    private(set) var hits = 0
    private(set) var misses = 0

    init(capacity: Int = 8) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The compiled form of `text` for `home` and `workspace`: kept, or made by `compile` and kept.
    func compiled<Failure: Error>(_ text: PolicyText, home: String, workspace: String,
                                  compile: () throws(Failure) -> Compiled) throws(Failure) -> Compiled {
        let key = Key(source: text.source, yaml: text.yaml, home: home, workspace: workspace)
        if let index = entries.firstIndex(where: { $0.key == key }) {
            hits += 1
            let entry = entries.remove(at: index)
            entries.append(entry)
            return entry.compiled
        }
        misses += 1
        let compiled = try compile()
        if entries.count == capacity { entries.removeFirst() }
        entries.append((key, compiled))
        return compiled
    }
}
