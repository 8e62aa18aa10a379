internal import CEbguardABI
import EbguardPolicy

/// A shadow session's execs that argv or ask rules would have held (EG_REASON_UNHELD): the
/// kernel let them run, so their command line is judged from the process's exec event
/// (bpf/process.bpf.c, same ring, after the hook's event), not from a stopped task's /proc.
/// One reader thread owns it.
public final class UnheldExecs {
    /// pid -> the path the exec hook decided on. An exec that fails after the hook leaves its
    /// entry until the pid's next exec, which the pid's next unheld event overwrites.
    private var pending: [UInt32: String] = [:]
    /// Bounds what a session that execs without end (and never commits) can make us keep.
    public static let limit = 4096

    public init() {}

    /// Remembers an unheld exec until its process's exec event comes.
    public func note(_ event: DecisionEvent) {
        guard event.kind == .exec, event.reason == .unheld, case .path(let path) = event.object else { return }
        if pending.count >= Self.limit, pending[event.pid] == nil { pending.removeAll(keepingCapacity: true) }
        pending[event.pid] = path
    }

    /// The policy's decision on the committed exec of an unheld one, with its command line;
    /// nil when the event is not the exec of a pending pid. A truncated argv (longer than
    /// EG_ARGV_MAX bytes) is judged as far as the kernel copied it.
    public func judge(_ process: ProcessEvent, policy: CompiledPolicy) -> (path: String, argv: [String], decision: Decision)? {
        guard process.kind == .exec, let path = pending.removeValue(forKey: process.pid) else { return nil }
        return (path, process.argv, policy.decideExec(path: path, argv: process.argv))
    }

    /// `would deny exec git push --force by rule exec[3] (shadow, not enforced)`, nil when the
    /// policy allows it.
    public static func message(argv: [String], path: String, decision: Decision) -> String? {
        let what: String
        switch decision.verdict {
        case .deny: what = "would deny (shadow, not enforced)"
        case .ask: what = "would ask (shadow, not enforced)"
        case .allow, .audit: return nil
        }
        let rule = decision.rule.map { "by rule \($0)" } ?? "by the exec default"
        return "\(what) exec \(argv.isEmpty ? path : argv.joined(separator: " ")) \(rule)"
    }
}
