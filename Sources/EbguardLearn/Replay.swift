import EbguardPolicy
import Foundation

/// A candidate policy against a recorded session, with the userspace reference matcher (the
/// semantics the kernel's programs are tested against).
public struct Replay: Sendable {
    /// One recorded operation the candidate would decide the other way.
    public struct Change: Sendable, Hashable {
        public enum Direction: String, Sendable, Hashable {
            /// It went through; the candidate would refuse it (deny, or ask: a human would decide).
            case wouldDeny = "would_deny"
            /// It was refused; the candidate would let it through.
            case wouldAllow = "would_allow"
        }
        public var direction: Direction
        public var object: String
        public var program: String
        public var count: UInt64
        /// What the recording said, and what the candidate says (`deny by file[3]`).
        public var recorded: String
        public var candidate: Decision
        public var candidateLocation: SourceLocation?
        /// `FILE:LINE` of the first record.
        public var source: String
    }

    public var changes: [Change] = []
    /// Operations read, and those the candidate decides the same way.
    public var operations: UInt64 = 0
    public var unchanged: UInt64 = 0

    public var wouldDeny: [Change] { changes.filter { $0.direction == .wouldDeny } }
    public var wouldAllow: [Change] { changes.filter { $0.direction == .wouldAllow } }

    /// The candidate's decision for one recorded operation. A connect the resolver named is
    /// decided as the session would be: the name's rules (`decideHost`), a denied name never
    /// resolves, then `decideConnect(address:port:protocol:liveRules:)`.
    public static func decide(_ target: Observation.Target, _ policy: CompiledPolicy) -> Decision {
        switch target {
        case .exec(let path, let argv): return policy.decideExec(path: path, argv: argv)
        case .file(let path, let access): return policy.decideFile(path: path, access: access)
        case .unix(let path): return policy.decideUnix(path: path)
        case .lookup(let name):
            let h = policy.decideHost(name: name)
            return Decision(h.verdict, h.rule)
        case .connect(let address, let port, let transport, let host):
            guard let host else { return policy.decideConnect(address: address, port: port, protocol: transport) }
            let h = policy.decideHost(name: host)
            if h.verdict == .deny { return Decision(.deny, h.rule) }
            return policy.decideConnect(address: address, port: port, protocol: transport, liveRules: h.rules)
        }
    }

    /// Whether `decision` lets an operation of `program` through. A `unless: git` deny lets git
    /// through: replay assumes a git that wrote there would be vetted at exec again (its command
    /// line is not in the trail); any other program is refused.
    public static func lets(_ decision: Decision, program: String, _ policy: CompiledPolicy) -> Bool {
        if decision.verdict == .allow || decision.verdict == .audit { return true }
        guard decision.verdict == .deny, program == "git", case .file? = decision.rule?.domain else { return false }
        return policy.file.contains { $0.id == decision.rule && $0.unlessGit }
    }

    /// Replays `observations`; identical operations (same object, program and outcome) are
    /// reported once with their count.
    public init(_ observations: [Observation], against policy: CompiledPolicy) {
        var index: [String: Int] = [:]
        let cache = Self.decisions(for: observations, policy)
        for o in observations {
            operations += o.count
            let d = cache[o.target]!
            let lets = Self.lets(d, program: o.program, policy)
            let direction: Change.Direction
            switch (o.outcome, lets) {
            case (.allowed, false): direction = .wouldDeny
            case (.refused, true): direction = .wouldAllow
            default:
                unchanged += o.count
                continue
            }
            let key = "\(direction.rawValue)\0\(o.objectText)\0\(o.program)"
            if let i = index[key] {
                changes[i].count += o.count
                continue
            }
            index[key] = changes.count
            let location = d.rule.flatMap { id in Self.location(of: id, in: policy) }
            changes.append(Change(direction: direction, object: o.objectText, program: o.program, count: o.count,
                                  recorded: "\(o.recordedVerdict) by \(o.recordedRule)", candidate: d,
                                  candidateLocation: location, source: o.source))
        }
    }

    /// Each distinct operation decided once, on every core: the evaluator is pure, and a long
    /// session holds tens of thousands of distinct paths.
    static func decisions(for observations: [Observation], _ policy: CompiledPolicy) -> [Observation.Target: Decision] {
        var seen = Set<Observation.Target>()
        var targets: [Observation.Target] = []
        for o in observations where seen.insert(o.target).inserted { targets.append(o.target) }
        var out = [Decision?](repeating: nil, count: targets.count)
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, targets.count / 512 + 1))
        let all = targets
        out.withUnsafeMutableBufferPointer { buffer in
            let buffer = UnsafeSendable(buffer)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (all.count * c / chunks)..<(all.count * (c + 1) / chunks) {
                    buffer.value[i] = decide(all[i], policy)
                }
            }
        }
        var map: [Observation.Target: Decision] = [:]
        map.reserveCapacity(targets.count)
        for (t, d) in zip(targets, out) { map[t] = d! }
        return map
    }

    static func location(of id: RuleID, in policy: CompiledPolicy) -> SourceLocation? {
        switch id.domain {
        case .exec: policy.exec.first { $0.id == id }?.location
        case .file: policy.file.first { $0.id == id }?.location
        case .network: policy.network.first { $0.id == id }?.location
        }
    }
}
