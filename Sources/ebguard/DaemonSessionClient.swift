import EbguardDaemon
import EbguardEnforcement
import EbguardPolicy
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
    /// Signalled when the daemon reported the session's end: `finish` leaves the moment the
    /// session's last lines are printed (it polled every 10 ms, most of a short run's end).
    private let endReported = NSCondition()
    /// Guarded by `endReported`.
    private var sawEnd = false
    private var printer: Thread?

    private init(info: SessionInfo, connection: ControlClient, quiet: Bool) {
        self.info = info
        currentConnection = connection
        self.quiet = quiet
    }

    /// What the command is started with, from the policy: `no_new_privs` and the capabilities kept.
    struct CommandPrivileges {
        var noNewPrivs: Bool
        var capabilities: [String]
    }

    /// Registers the session on `connection` (the one that found the daemon listening, which
    /// then carries the session's events), or exits: 125 with the reason, 2 for `requireFull`
    /// on a degraded daemon.
    ///
    /// The daemon parses and compiles the policy `request` carries and says what the command
    /// gets from it; `parse` (that same text, parsed here) runs only when it does not say (a
    /// daemon that predates it) or refused the policy: a bad policy then reads exactly as
    /// without a daemon, its own diagnostics and nothing before them.
    static func register(_ request: SessionRequest, on connection: ControlClient, requireFull: Bool, quiet: Bool,
                         parse: () throws(PolicyError) -> Policy) -> (session: DaemonSessionClient, privileges: CommandPrivileges) {
        func parsed() -> Policy {
            do { return try parse() } catch {
                for diagnostic in error.diagnostics { warn(diagnostic.description) }
                Foundation.exit(125)
            }
        }
        do throws(ControlError) {
            // --require-full must know before anything is registered; otherwise the answer to
            // `register` says how the daemon runs, and a separate `status` is one round trip more.
            var degraded: Bool?
            if requireFull {
                degraded = try connection.send(.status, expecting: StatusReport.self).mode != "full"
                if degraded == true {
                    _ = parsed()
                    warn("--require-full: the daemon runs degraded (this kernel refuses BPF-LSM); see ebguard doctor")
                    Foundation.exit(2)
                }
            }
            let info: SessionInfo
            do { info = try connection.send(.register(request), expecting: SessionInfo.self) } catch {
                if error.code == "policy" { _ = parsed() }
                throw error
            }
            let client = DaemonSessionClient(info: info, connection: connection, quiet: quiet)
            if degraded == nil, let mode = info.daemonMode {
                degraded = mode != "full"
            } else if degraded == nil {
                // A daemon that predates `daemon_mode`: asked on a connection of its own (this
                // one carries the session's events now).
                degraded = try ControlClient().send(.status, expecting: StatusReport.self).mode != "full"
            }
            let privileges: CommandPrivileges
            if let noNewPrivs = info.noNewPrivs, let capabilities = info.capabilities {
                privileges = CommandPrivileges(noNewPrivs: noNewPrivs, capabilities: capabilities)
            } else {
                // Nothing starts before this: a policy the daemon accepted and this build refuses ends it.
                let policy: Policy
                do { policy = try parse() } catch {
                    client.finish(exitStatus: 125)
                    for diagnostic in error.diagnostics { warn(diagnostic.description) }
                    Foundation.exit(125)
                }
                privileges = CommandPrivileges(noNewPrivs: policy.noNewPrivs, capabilities: policy.capabilities)
            }
            if degraded == true {
                warn("DEGRADED: the daemon cannot enforce exec and file rules on this kernel (exec is only observed); "
                     + "network rules are enforced. Run `ebguard doctor` for the remedy, or pass --require-full.")
            }
            if !quiet { for note in info.notes { warn("note: \(note)") } }
            return (client, privileges)
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
                if event.kind == .session && event.action == "end" { reportEnd() }
                // Denials, audits, and every interactive step (waiting, approved, blocked by the operator).
                guard !quiet, RunLine.shows(verdict: event.verdict, blocked: event.blocked, reason: event.reason)
                        || (event.kind == .decision && event.action == "answer") else { continue }
                warn(event.message)
            case .notice(let text):
                if !quiet { warn(text) }
            case .end:
                reportEnd()
            }
        }
    }

    private func reportEnd() {
        endReported.lock()
        sawEnd = true
        endReported.broadcast()
        endReported.unlock()
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
            if printer != nil {
                let deadline = Date(timeIntervalSinceNow: 2)
                endReported.lock()
                while !sawEnd && endReported.wait(until: deadline) {}
                endReported.unlock()
            }
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
