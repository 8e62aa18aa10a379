import EbguardDaemon
import EbguardEnforcement
import EbguardSystem
import Foundation
import Glibc
import Synchronization

/// `ebguard run`'s side of a session the daemon owns: registers it, prints its denials as
/// the daemon streams them, re-attaches after a daemon restart, and cleans up alone when no
/// daemon is left to do it.
final class DaemonSessionClient: @unchecked Sendable {
    let info: SessionInfo
    private let quiet: Bool
    private let lock = NSLock()
    private var currentConnection: ControlClient?
    private let done = Mutex(false)
    /// Set when the daemon reported the session's end (so `finish` can stop waiting).
    private let sawEnd = Mutex(false)
    private var printer: Thread?

    private init(info: SessionInfo, connection: ControlClient, quiet: Bool) {
        self.info = info
        currentConnection = connection
        self.quiet = quiet
    }

    /// Registers the session, or exits with the daemon's reason (policy errors included).
    static func register(_ request: SessionRequest, requireFull: Bool, quiet: Bool) -> DaemonSessionClient {
        do {
            let status = try ControlClient().send(.status, expecting: StatusReport.self)
            if status.mode != "full" {
                if requireFull {
                    warn("--require-full: the daemon runs degraded (this kernel refuses BPF-LSM); see ebguard doctor")
                    Foundation.exit(2)
                }
                warn("DEGRADED: the daemon cannot enforce exec and file rules on this kernel (exec is only observed); "
                     + "network rules are enforced. Run `ebguard doctor` for the remedy, or pass --require-full.")
            }
            let client = try ControlClient()
            let info = try client.send(.register(request), expecting: SessionInfo.self)
            if !quiet { for note in info.notes { warn("note: \(note)") } }
            return DaemonSessionClient(info: info, connection: client, quiet: quiet)
        } catch {
            warn(error.message)
            for diagnostic in error.diagnostics { warn(diagnostic) }
            Foundation.exit(125)
        }
    }

    func startPrinting() {
        let thread = Thread { [self] in printLoop() }
        thread.name = "ebguard-session-events"
        thread.start()
        printer = thread
    }

    private func printLoop() {
        while !done.withLock({ $0 }) {
            guard let client = lock.withLock({ currentConnection }) else {
                reattach()
                continue
            }
            guard let item = client.next() else {
                lock.withLock { currentConnection = nil }
                if !done.withLock({ $0 }) && !quiet {
                    warn("lost the daemon; enforcement continues in the kernel; reconnecting")
                }
                continue
            }
            switch item {
            case .event(let event, _):
                if event.kind == .session && event.action == "end" { sawEnd.withLock { $0 = true } }
                // Denials, audits, and every interactive step (waiting, approved, blocked by the operator).
                guard !quiet, RunLine.shows(verdict: event.verdict, blocked: event.blocked, reason: event.reason)
                        || (event.kind == .decision && event.action == "answer") else { continue }
                warn(event.message)
            case .notice(let text):
                if !quiet { warn(text) }
            case .end:
                sawEnd.withLock { $0 = true }
            }
        }
    }

    /// After a daemon restart: attach again once a daemon listens (it adopted the session).
    private func reattach() {
        usleep(500_000)
        guard !done.withLock({ $0 }), let client = try? ControlClient() else { return }
        if (try? client.send(.attach(session: info.key), expecting: SessionInfo.self)) != nil {
            lock.withLock { currentConnection = client }
            if !quiet { warn("re-attached to the daemon") }
        }
    }

    /// The command has exited (with `exitStatus`, for the audit trail's `session_stop`): end the
    /// session through the daemon, or alone without one.
    func finish(exitStatus: Int32) {
        if let client = lock.withLock({ currentConnection }),
           (try? ControlClient().send(.end(session: info.key, exitStatus: exitStatus), expecting: SessionInfo.self)) != nil {
            // Print the session's last denials before leaving: they precede its end event.
            let deadline = ContinuousClock.now + .seconds(2)
            while !sawEnd.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(10_000) }
            _ = client
        } else {
            // No daemon: enforcement ends with the cgroup; the daemon sweeps the rules when it returns.
            let cgroup = Cgroup(path: info.cgroup)
            try? cgroup.killAll()
            try? cgroup.destroy()
            Enforcer.forgetSession(info.id)
        }
        done.withLock { $0 = true }
    }
}
