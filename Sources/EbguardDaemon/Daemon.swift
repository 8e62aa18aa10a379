import EbguardAudit
import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import Foundation
import Glibc
import Logging
import Synchronization

/// `ebguard daemon`: owns the host's sessions, reads every daemon session's events from the
/// shared ring buffer, and serves the control socket. One thread runs the loop, so state
/// needs no locks; slow work (waiting for a held exec to stop) runs elsewhere and reports
/// back through `mailbox`.
///
/// Enforcement never depends on this process: programs, links and maps are pinned, so a
/// `kill -9` leaves every session enforced, and a new daemon adopts them from the pins and
/// the records in `SessionStore`.
public final class Daemon {
    public struct Configuration: Sendable {
        /// Holds the lock, the session records and, unless `socketPath` says otherwise, the socket.
        public var stateDirectory = "/run/ebguard" {
            didSet { socketPath = stateDirectory + "/ebguard.sock" }
        }
        public var socketPath = "/run/ebguard/ebguard.sock"
        public var pinBase = "/sys/fs/bpf/ebguard"
        public var parentName = "ebguard"
        var storeDirectory: String { stateDirectory + "/sessions" }
        var lockPath: String { stateDirectory + "/daemon.lock" }
        /// Members of this group may use the control socket besides root.
        public var groupName = "ebguard"
        /// Where answers with scope `always` are kept, one policy file per policy name.
        public var overlayDirectory = "/etc/ebguard/overlays"
        public var backlogCapacity = 4096
        /// Output a subscriber may fall behind by before its events are dropped (and counted).
        public var subscriberBufferLimit = 4 << 20
        public var maximumClients = 128
        public var version = "dev"
        /// The audit log and its forwarders (`ebguard.yaml`); nil keeps no audit log.
        public var audit: AuditSettings?
        /// Where sessions' resolvers forward allowed names; their limits.
        public var resolver = ResolverSettings()
        public init() {}
    }

    let configuration: Configuration
    let enforcer: Enforcer
    let store: SessionStore
    let clock = EventClock()
    let timeText = TimeTextCache()
    let peerCheck: PeerCheck
    let startedAt = EventClock.bootNanoseconds()
    let lsm: Bool
    var sessions: [UInt64: ManagedSession] = [:]
    var clients: [Int32: ControlClientState] = [:]
    let hub: EventHub
    let processes = ProcessFacts()
    let asks = AskQueue()
    let overlays: OverlayStore
    /// Sessions of one agent register the same policy again and again: compiled once.
    let compiledPolicies = CompiledPolicies()
    var kernelAnswers: KernelAnswers { KernelAnswers(enforcer: enforcer) }
    var warnings: [String] = []
    /// The kernel's lost-event total already written to the audit log (the map outlives
    /// daemons, so a new daemon starts from what is there).
    private var lostRecorded: UInt64 = 0
    /// The daemon's log (the executable chose where it goes).
    let logger: Logger
    /// Where decisions and session changes are recorded; nil when not configured.
    let audit: AuditSink?
    /// Repeated decisions counted instead of written one by one.
    var auditRepeats = AuditRepeats()
    /// The last kernel decision published in full, for its repeats (RepeatedEvents.swift).
    var repeatCache = RepeatCache()

    private let lock: OwnedFileDescriptor
    private let listener: OwnedFileDescriptor
    private let socketGroup: gid_t?
    private var ring: EventReader?
    /// `eg_urgent`: held execs, which wait stopped until read. Watched even while gathering.
    private var urgentRing: EventReader?
    private let signals: SignalPipe
    private let statistics: OwnedFileDescriptor?
    let mailbox = Mailbox()
    /// Resolver workers waiting on a pending ask, by its id.
    var hostWaiters: [Int: [HostAskReply]] = [:]
    private var stopping = false
    private var stopSignal: Int32 = SIGTERM

    /// What the daemon did, for its operator (the journal under systemd).
    func log(_ message: String) { logger.info("\(message)") }

    var listenerFD: Int32 { listener.rawValue }
    var socketGroupID: gid_t? { socketGroup }
    var statisticsEnabled: Bool { statistics != nil }

    public init(configuration: Configuration = Configuration(), lsm: Bool, logger: Logger) throws {
        self.configuration = configuration
        self.lsm = lsm
        self.logger = logger
        // Loading the programs (libbpf reads the kernel's BTF) is a burst of several MB the
        // daemon never needs again: it must not stay in the heap for the daemon's whole life.
        ProcessMemory.keepLargeBlocksOutOfTheHeap()
        mkdir("/run/ebguard", 0o755)
        guard mkdir(configuration.stateDirectory, 0o755) == 0 || errno == EEXIST else {
            throw ControlError("state", "cannot create \(configuration.stateDirectory): \(String(cString: strerror(errno)))")
        }
        let lock = try OwnedFileDescriptor(opening: configuration.lockPath, flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
        self.lock = lock
        guard flock(lock.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: configuration.lockPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            throw ControlError("already-running", "another ebguard daemon is running (pid \(holder))")
        }
        ftruncate(lock.rawValue, 0)
        _ = "\(getpid())\n".withCString { write(lock.rawValue, $0, strlen($0)) }
        // Opened under the lock (two writers would fork the chain) and before anything is
        // loaded, so a log that cannot be opened stops the daemon with nothing changed.
        audit = try configuration.audit.map { settings throws(AuditError) in
            var auditLogger = logger
            auditLogger[metadataKey: "component"] = "audit"
            return try AuditSink(settings: settings, version: configuration.version, logger: auditLogger)
        }

        enforcer = try Enforcer(pinBase: configuration.pinBase, parentName: configuration.parentName)
        try enforcer.ensureLoaded(lsm: lsm)
        store = SessionStore(directory: configuration.storeDirectory)
        overlays = OverlayStore(directory: configuration.overlayDirectory)
        peerCheck = PeerCheck(parentName: configuration.parentName)
        hub = EventHub(capacity: configuration.backlogCapacity)
        statistics = try? Enforcer.enableProgramStatistics()
        signals = try SignalPipe(signals: [SIGTERM, SIGINT, SIGHUP, SIGPIPE])
        socketGroup = getgrnam(configuration.groupName).map { $0.pointee.gr_gid }
        listener = try UnixSocket.listen(at: configuration.socketPath, mode: socketGroup == nil ? 0o600 : 0o660,
                                         group: socketGroup)
        ring = nil
        let sink = EventSink()
        ring = try enforcer.eventReader(KernelMaps.events) { record in sink.daemon?.receive(record) }
        urgentRing = try enforcer.eventReader(KernelMaps.urgent) { record in sink.daemon?.receive(record) }
        sink.daemon = self
        lostRecorded = ((try? enforcer.lostEvents()) ?? []).reduce(0, +)
        adoptSessions()
        ProcessMemory.releaseFree()
        // After adoption (which publishes nothing) so that `daemon_start` is the first record.
        audit?.start()
        publishDaemonNote("daemon started (pid \(getpid()), \(sessions.count) session(s) adopted)")
    }

    /// Takes over the sessions a previous daemon left, and cleans up those whose cgroup is gone.
    private func adoptSessions() {
        let (records, problems) = store.load()
        warnings += problems
        for record in records {
            let cgroup = Cgroup(path: record.cgroup)
            let installed = enforcer.installedPolicyID(sessionID: record.id)
            let cgroupAlive = access(record.cgroup, F_OK) == 0 && (try? cgroup.id()) == record.id
            do {
                var record = record
                // A swap interrupted by a crash: keep whichever policy the kernel points at.
                if let previousID = record.previousPolicyID, let previous = record.previousPolicy {
                    if installed == previousID {
                        removeRules(of: record, text: record.policy, id: record.policyID)
                        record.policy = previous
                        record.policyID = previousID
                    } else {
                        removeRules(of: record, text: previous, id: previousID)
                    }
                    record.previousPolicy = nil
                    record.previousPolicyID = nil
                }
                let policy = try record.compile(record.policy)
                let maps = try PolicyMaps(policy, policyID: record.policyID)
                let holder = ResolverHolder()
                let session = try Session(adopting: record.name, cgroup: cgroup, id: record.id, maps: maps, enforcer: enforcer,
                                          hostLimits: configuration.resolver.limits,
                                          resolver: cgroupAlive ? resolverStarter(policy: policy, holder: holder) : nil)
                guard cgroupAlive, installed == record.policyID, ManagedSession.countProcesses(in: cgroup) > 0 else {
                    // Its cgroup is gone, or nothing runs in it and no `ebguard run` is left to use it.
                    session.end()
                    holder.resolver?.stop()
                    store.delete(record.id)
                    log("session \(record.key) ended while the daemon was away; cleaned up")
                    continue
                }
                try store.save(record)
                sessions[record.id] = ManagedSession(session: session, record: record, policy: policy, resolver: holder.resolver)
                log("adopted session \(record.key) (policy \(policy.name))")
            } catch {
                warnings.append("session \(record.key): cannot adopt (\(error)); its pinned entries stay enforced")
            }
        }
        // Execs held when the previous daemon died are decided now, by the policy.
        for held in enforcer.heldExecs() where sessions[held.sessionID] != nil {
            let path = processes.facts(of: UInt32(held.pid)).exe ?? ""
            resolveHold(pid: held.pid, path: path, sessionID: held.sessionID, afterRestart: true)
        }
    }

    private func removeRules(of record: SessionRecord, text: PolicyText, id: UInt32) {
        guard let policy = try? record.compile(text), let maps = try? PolicyMaps(policy, policyID: id) else { return }
        enforcer.removeRules(maps)
    }

    /// The loop: runs until SIGTERM or SIGINT (or a `.stop` letter), on the calling thread, which
    /// it blocks; `DaemonLoopService` gives it a thread of its own. Sessions stay enforced after
    /// it returns.
    func run() {
        var lastTick = EventClock.bootNanoseconds()
        var gathering = false
        while !stopping {
            // After a wake-up that found only a few events, the ring is left alone for a moment
            // so that the next ones come as a batch: one wake-up, one read, one write per
            // subscriber for many events, instead of per event. Requests and held execs (the
            // urgent ring) are still served at once.
            var descriptors = [
                pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: signals.readFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: mailbox.readFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: ring?.pollFD ?? -1, events: gathering ? 0 : Int16(POLLIN), revents: 0),
                pollfd(fd: urgentRing?.pollFD ?? -1, events: Int16(POLLIN), revents: 0),
            ]
            let order = Array(clients.keys)
            for fd in order {
                let client = clients[fd]!
                let reading: Int16 = client.closeWhenFlushed ? 0 : Int16(POLLIN)
                descriptors.append(pollfd(fd: fd, events: reading | (client.hasPendingOutput ? Int16(POLLOUT) : 0),
                                          revents: 0))
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), gathering ? Self.gatherMilliseconds : 250)
            let consumed = consumeEvents()
            gathering = consumed > 0 && consumed < Self.gatherBelow
            for note in signals.drain() where note.signal == SIGTERM || note.signal == SIGINT {
                stopping = true
                stopSignal = note.signal
            }
            if descriptors[0].revents != 0 { acceptClients() }
            if descriptors[2].revents != 0 { deliverMail() }
            for (index, fd) in order.enumerated() {
                let revents = descriptors[Self.fixedDescriptors + index].revents
                guard revents != 0, clients[fd] != nil else { continue }
                if revents & Int16(POLLERR) != 0 {
                    closeClient(fd)
                } else if revents & Int16(POLLIN | POLLHUP) != 0, clients[fd]?.closeWhenFlushed == false {
                    readRequests(fd)
                }
            }
            flushClients()
            let now = EventClock.bootNanoseconds()
            if now - lastTick >= 1_000_000_000 {
                lastTick = now
                tick()
            }
        }
        shutdown()
    }

    /// The batching window after a sparse wake-up, and what counts as sparse. Nothing waits on
    /// it: a held exec comes through the urgent ring, which ends the window.
    static let gatherMilliseconds: Int32 = 20
    static let gatherBelow = 256
    /// Listener, signals, mailbox, ring, urgent ring; clients follow.
    private static let fixedDescriptors = 5

    /// The shared ring first: what a held exec's task did before it is older than the hold.
    private func consumeEvents() -> Int {
        var consumed = 0
        do { consumed += try ring?.consume() ?? 0 } catch {
            warnings.append("reading events failed: \(error)")
            ring = nil
        }
        do { consumed += try urgentRing?.consume() ?? 0 } catch {
            warnings.append("reading held execs failed: \(error)")
            urgentRing = nil
        }
        return consumed
    }

    /// Once a second: rates, and sessions whose cgroup disappeared under us.
    private func tick() {
        hub.tick()
        submitRepeats()
        expireAsks()
        // Kernel losses go to the audit log as they grow, so the trail says where it has holes.
        let lost = ((try? enforcer.lostEvents()) ?? []).reduce(0, +)
        if lost > lostRecorded {
            audit?.recordLost(count: lost - lostRecorded)
            lostRecorded = lost
        }
        for (id, managed) in sessions where access(managed.record.cgroup, F_OK) != 0 {
            endSession(id, reason: "its cgroup was removed")
        }
        for (fd, client) in clients where client.isIdleRequest(now: EventClock.bootNanoseconds()) {
            _ = client
            closeClient(fd)
        }
    }

    private func shutdown() {
        publishDaemonNote("daemon stopping (sessions stay enforced)")
        submitRepeats(all: true)
        // daemon_stop, last record: the audit trail's services, stopped after this one, write
        // and fsync everything handed over, then deliver it (DaemonServices.swift).
        audit?.finishIntake(reason: stopSignal == SIGINT ? "SIGINT" : "SIGTERM")
        flushClients()
        for fd in Array(clients.keys) { closeClient(fd, endingOwnedSession: false) }
        for managed in sessions.values { managed.session.release() }
        unlink(configuration.socketPath)
        log("stopped; \(sessions.count) session(s) stay enforced by the pinned programs")
    }

    // MARK: sessions

    func endSession(_ id: UInt64, reason: String, exitStatus: Int32? = nil) {
        guard let managed = sessions.removeValue(forKey: id) else { return }
        for ask in asks.ids(ofSession: id) { _ = asks.remove(ask) }
        asks.forget(session: id)
        managed.session.end()
        managed.resolver?.stop()
        for id in asks.ids(ofSession: managed.record.id) { answerHostAsk(id: id, allow: false, remembered: false) }
        store.delete(id)
        // No longer in `sessions`: the audit record gets its facts from here.
        var end = sessionEvent(managed, change: .end, message: "session \(managed.record.key) ended: \(reason)")
        end.exitCode = exitStatus
        publish(end, audit: AuditContext(facts: managed.auditFacts))
        log("session \(managed.record.key) ended: \(reason)")
    }

    /// Reads a held exec's command line off the loop's thread; the policy decides, or, for
    /// ask, a human does. After a restart nobody is waiting at a prompt for it: ask takes the
    /// policy's `on_timeout`.
    func resolveHold(pid: pid_t, path: String, sessionID: UInt64, afterRestart: Bool = false) {
        guard let managed = sessions[sessionID] else { return }
        let mailbox = self.mailbox
        HoldDecisions.decide(pid: pid, path: path, policy: managed.policy, answers: enforcer.holdAnswers, holdAsks: true) { outcome in
            mailbox.post(.holdResolved(sessionID: sessionID, pid: pid, path: path, outcome: outcome, afterRestart: afterRestart))
        }
    }

    private func deliverMail() {
        for letter in mailbox.take() {
            switch letter {
            case .hostEvent(let sessionID, let event):
                publish(event, sessionID: sessionID)
            case .hostAsk(let sessionID, let name, let type, let rule, let reply):
                raiseHostAsk(sessionID: sessionID, name: name, type: type, rule: rule, reply: reply)
            case .stop:
                stopping = true
            case .holdResolved(let sessionID, let pid, let path, let outcome, let afterRestart):
                guard let outcome else {
                    enforcer.releaseHold(pid: pid)
                    continue
                }
                guard let managed = sessions[sessionID] else {
                    finishHeld([pid], allow: false)
                    continue
                }
                if outcome.stillHeld && !afterRestart {
                    raiseExecAsk(outcome, path: path, managed: managed)
                    continue
                }
                var resumed = outcome.resumed
                var why = outcome.decision.rule.map { "by rule \($0)" } ?? "(no rule: the exec default)"
                if outcome.stillHeld {
                    resumed = managed.policy.onTimeout == .allow
                    finishHeld([pid], allow: resumed)
                    why = "(held when the daemon restarted: on_timeout \(managed.policy.onTimeout.rawValue))"
                } else if outcome.gitWriter {
                    // Its eg_held entry marks it until its next exec or its exit (the kernel drops it).
                    why += "; a vetted git, which `unless: git` rules let write"
                } else {
                    enforcer.releaseHold(pid: pid)
                }
                let command = outcome.argv.isEmpty ? path : outcome.argv.joined(separator: " ")
                var event = sessionEvent(managed, action: "exec", subject: .heldExec(path: path), message:
                    "\(resumed ? "allowed" : "denied") exec \(command) \(outcome.argv.isEmpty ? "(could not read its command line: fail closed)" : why)")
                event.kind = .decision
                event.pid = UInt32(pid)
                event.verdict = resumed ? (outcome.stillHeld ? .allow : EventVerdict(outcome.decision.verdict)) : .deny
                event.blocked = !resumed
                event.object = path
                event.argv = outcome.argv
                event.rule = outcome.decision.rule?.description
                event.ruleLocation = event.rule.flatMap { managed.ruleLocations[$0] }
                event.reason = outcome.stillHeld ? .timeout : .argv
                publish(event)
            }
        }
    }
}

/// Lets the ring buffer's callback reach the daemon without a retain cycle.
private final class EventSink {
    weak var daemon: Daemon?
}

/// Work finished off the loop's thread, handed back to it.
final class Mailbox: Sendable {
    enum Letter: Sendable {
        case holdResolved(sessionID: UInt64, pid: pid_t, path: String, outcome: HeldExec.Outcome?, afterRestart: Bool)
        /// A session's resolver decided a query (or refused some).
        case hostEvent(sessionID: UInt64, HostEvent)
        /// A session's resolver holds a query for an ask rule.
        case hostAsk(sessionID: UInt64, name: String, type: String, rule: String?, reply: HostAskReply)
        /// The service group shuts down (not by a signal the loop caught itself).
        case stop
    }

    private let letters = Mutex<[Letter]>([])
    let readFD: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    func post(_ letter: Letter) {
        letters.withLock { $0.append(letter) }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    func take() -> [Letter] {
        var sink = [UInt8](repeating: 0, count: 256)
        while read(readFD, &sink, sink.count) > 0 {}
        return letters.withLock { letters in
            defer { letters.removeAll() }
            return letters
        }
    }
}
