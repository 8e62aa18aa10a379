import EbguardBPF
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

    func reader() -> RingBuffer? {
        guard let channel = session.events else { return nil }
        let unheld = UnheldExecs()
        do {
            return try RingBuffer(channel, name: "events of \(session.name)") { record in
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

/// Runs the governed command to its end: forwards signals, and reads `ring` (standalone
/// sessions) while it runs.
struct SessionLoop {
    let cgroup: Cgroup
    let ring: RingBuffer?

    /// Signals passed on to the command. Terminal-generated ones (Ctrl-C) already reach it directly.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD]

    /// Returns the shell exit code: the command's, 126/127 when it could not start.
    func run(_ request: SpawnRequest) -> Int32 {
        let signals: SignalPipe
        do { signals = try SignalPipe(signals: Self.forwarded) } catch { fail("\(error)") }
        var request = request
        do {
            request.executable = try SpawnRequest.resolve(request.executable, path: request.environment["PATH"])
        } catch {
            warn("\(request.executable): command not found")
            return 127
        }
        let child: pid_t
        do {
            child = try cgroup.spawn(request)
        } catch let error as SystemError {
            warn("\(error)")
            return error.errno == .noSuchFileOrDirectory ? 127 : 126
        } catch {
            warn("\(error)")
            return 126
        }

        var fds = [pollfd(fd: signals.readFD, events: Int16(POLLIN), revents: 0)]
        if let ring { fds.append(pollfd(fd: ring.epollFD, events: Int16(POLLIN), revents: 0)) }
        while true {
            _ = poll(&fds, nfds_t(fds.count), 200)
            _ = try? ring?.consume()
            for note in signals.drain() where note.signal != SIGCHLD {
                // Ctrl-C from the terminal hits the whole foreground group, the command included.
                if note.fromProcess || (note.signal != SIGINT && note.signal != SIGQUIT) { kill(child, note.signal) }
            }
            var status: Int32 = 0
            let reaped = waitpid(child, &status, WNOHANG)
            if reaped == child {
                _ = try? ring?.consume()
                return ExitStatus(waitStatus: status).shellCode
            }
            if reaped < 0 && errno != EINTR { return 125 }
        }
    }
}
