import Dispatch
import EbguardPolicy
import Glibc

/// The stages a session's kernel events pass whoever owns the session, a standalone
/// `ebguard run` or the daemon: decoded once, given the name the session's resolver knows for a
/// host rule's answer, and held execs set aside to be decided off the reader's thread
/// (`HoldDecisions`). What is left, the owner routes: a line on stderr, or publication, asks and
/// the audit trail.
public enum SessionEvent {
    /// A kernel decision, to route.
    case decision(DecisionEvent)
    /// An exec the kernel stopped for userspace to decide from its argv.
    case held(DecisionEvent)
    /// Process life: fork, exec with its argv, exit.
    case process(ProcessEvent)

    /// Decodes a ring record; nil for a record of another type or size. `hosts` gives a session's
    /// resolver allowances (nil: a session this reader does not own).
    public init?(record: UnsafeRawBufferPointer, hosts: (UInt64) -> HostAllowances?) {
        if var decision = DecisionEvent(record: record) {
            if decision.hostID != 0 { decision.host = hosts(decision.sessionID)?.name(ofID: decision.hostID) }
            self = decision.isHeld ? .held(decision) : .decision(decision)
        } else if let process = ProcessEvent(record: record) {
            self = .process(process)
        } else {
            return nil
        }
    }
}

/// Where held execs are decided, for every owner: never on the ring's reader, which a decision
/// (up to 2 s waiting for the task to stop) would block while a flood of denials fills the ring.
public enum HoldDecisions {
    private static let queue = DispatchQueue(label: "ebguard.holds", attributes: .concurrent)

    /// Reads the command line of `pid`, held exec'ing `path`, and lets the policy resume or kill
    /// it (`holdAsks`: an ask leaves it stopped for someone to answer); `then` gets the outcome,
    /// on the deciding thread.
    public static func decide(pid: pid_t, path: String, policy: CompiledPolicy, answers: HeldExec.HoldAnswers,
                              holdAsks: Bool, then report: @escaping @Sendable (HeldExec.Outcome?) -> Void) {
        queue.async {
            report(HeldExec.resolve(pid: pid, path: path, policy: policy, answers: answers, holdAsks: holdAsks))
        }
    }
}

/// What `ebguard run` shows a line for, whoever owns its session.
public enum RunLine {
    /// Whatever was refused, audited or asked (or, in shadow, would have been); not plain allows,
    /// and not the execs a degraded kernel only observed.
    public static func shows(verdict: EventVerdict, blocked: Bool, reason: EventReason) -> Bool {
        reason != .observed && (blocked || verdict != .allow)
    }
}
