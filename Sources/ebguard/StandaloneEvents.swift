import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import Glibc

/// Reads a standalone session's own ring buffer: prints its denials, decides its held execs.
struct StandaloneEvents {
    let session: Session
    let policy: CompiledPolicy
    let enforcer: Enforcer
    let quiet: Bool
    let home: String

    /// Decides an exec held for its argv rules (off the reader's thread, as the daemon does),
    /// and says so when it is refused. Nobody can answer an ask here: it denies.
    private func resolveHold(_ event: DecisionEvent) {
        let quiet = quiet
        HoldDecisions.decide(pid: pid_t(event.pid), path: event.objectText, policy: policy, answers: enforcer.holdAnswers,
                             holdAsks: false) { outcome in
            guard let outcome, !outcome.resumed, !quiet else { return }
            let rule = outcome.decision.rule.map { "by rule \($0)" } ?? "(could not read its command line: fail closed)"
            let verdict = outcome.decision.verdict == .ask ? "denied (ask, no one to answer yet)" : "denied"
            warn("\(verdict) exec \(outcome.argv.joined(separator: " ")) \(rule)")
        }
    }

    func reader() -> EventReader? {
        let unheld = UnheldExecs()
        do {
            return try session.eventReader { record in
                switch SessionEvent(record: record, hosts: { $0 == session.id ? session.hosts : nil }) {
                case .held(let event)? where event.sessionID == session.id:
                    resolveHold(event)
                case .decision(let event)? where event.sessionID == session.id:
                    if event.isUnheld {
                        unheld.note(event)
                        return
                    }
                    guard !quiet, RunLine.shows(verdict: event.verdict, blocked: event.blocked, reason: event.reason) else { return }
                    warn(event.message(home: home))
                case .process(let process)?:
                    // A shadow session's process life: the command line of an exec left unheld.
                    if let judged = unheld.judge(process, policy: policy), !quiet,
                       let line = UnheldExecs.message(argv: judged.argv, path: judged.path, decision: judged.decision) {
                        warn(line)
                    }
                default:
                    return
                }
            }
        } catch {
            // Enforcement is in the kernel either way; only the report is lost.
            warn("cannot read this session's events (\(error)); denials will not be printed")
            return nil
        }
    }
}
