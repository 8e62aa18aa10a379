import EbguardAudit
import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import Foundation
import Glibc

extension Daemon {
    func acceptClients() {
        while true {
            let fd = accept(listenerFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // EAGAIN, or a transient failure: poll tells us again
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            UnixSocket.setNonBlocking(fd)
            UnixSocket.enlargeSendBuffer(fd, to: 4 << 20)
            let descriptor = OwnedFileDescriptor(adopting: fd)
            guard let peer = try? UnixSocket.peerCredentials(of: fd) else { continue }
            let client = ControlClientState(descriptor: descriptor, peer: peer)
            guard clients.count < configuration.maximumClients else {
                client.send(ControlResponse.failure(ControlError("busy", "too many connections to the daemon")))
                _ = client.flush()
                continue
            }
            // Checked at connect time and on every request that changes anything.
            if case .refused(let why) = peerCheck.check(peer, allowedGroup: socketGroupID) {
                log("refused connection from pid \(peer.pid) uid \(peer.uid): \(why)")
                client.send(ControlResponse.failure(ControlError("refused", why)))
                _ = client.flush()
                publishDaemonNote("refused control connection from pid \(peer.pid): \(why)")
                continue
            }
            clients[fd] = client
        }
    }

    func readRequests(_ fd: Int32) {
        guard let client = clients[fd] else { return }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count == 0 {
                // The peer is done sending: answer what it asked, then close.
                client.closeWhenFlushed = true
                return
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { break }
                return closeClient(fd)
            }
            // A subscriber has nothing more to say; whatever it sends is discarded.
            guard client.filter == nil, !client.closeWhenFlushed else { continue }
            client.input.append(contentsOf: chunk[0..<count])
            while let newline = client.input.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(client.input[..<newline])
                client.input.removeFirst(newline + 1)
                handle(line, from: client)
                if client.filter != nil || client.closeWhenFlushed {
                    client.input.removeAll()
                    break
                }
            }
            if client.input.count > ControlProtocol.maximumRequestBytes {
                client.input.removeAll()
                client.send(ControlResponse.failure(ControlError("too-large",
                    "request longer than \(ControlProtocol.maximumRequestBytes) bytes without a newline")))
                client.closeWhenFlushed = true
            }
        }
    }

    private func handle(_ line: [UInt8], from client: ControlClientState) {
        let request: ControlRequest
        do { request = try ControlRequest.decode(line) } catch {
            client.send(ControlResponse.failure(error))
            return
        }
        if request.changesEnforcement, case .refused(let why) = peerCheck.check(client.peer, allowedGroup: socketGroupID) {
            client.send(ControlResponse.failure(ControlError("refused", why)))
            client.closeWhenFlushed = true
            return
        }
        do {
            switch request {
            case .status:
                client.send(ControlResponse.success(status()))
            case .sessions:
                client.send(ControlResponse.success(sessions.values.sorted { $0.record.started < $1.record.started }
                    .map { $0.info(clock: clock) }))
            case .register(let session):
                let managed = try register(session, peer: client.peer)
                managed.ownerIsQuiet = session.quiet ?? false
                managed.owner = client.fd
                client.ownedSession = managed.record.id
                var info = managed.info(clock: clock)
                info.daemonMode = mode
                client.send(ControlResponse.success(info))
                client.filter = Self.ownerFilter(managed)
            case .attach(let selector):
                let managed = try find(selector)
                if let owner = managed.owner, clients[owner] != nil {
                    throw ControlError("attached", "session \(managed.record.key) already has its ebguard run attached")
                }
                managed.owner = client.fd
                client.ownedSession = managed.record.id
                client.send(ControlResponse.success(managed.info(clock: clock)))
                client.filter = Self.ownerFilter(managed)
            case .end(let selector, let exitStatus):
                let managed = try find(selector)
                endSession(managed.record.id, reason: "ended by request of pid \(client.peer.pid)", exitStatus: exitStatus)
                client.send(ControlResponse.success(managed.info(clock: clock)))
            case .apply(let selector, let text):
                let managed = try find(selector)
                try apply(text, to: managed, by: client.peer)
                client.send(ControlResponse.success(managed.info(clock: clock)))
            case .pending:
                client.send(ControlResponse.success(asks.pending))
            case .answer(let request):
                client.send(ControlResponse.success(try answer(request, by: client.peer)))
            case .subscribe(let filter):
                client.send(ControlResponse.success(["subscribed": true]))
                let now = EventClock.bootNanoseconds()
                let since = filter.sinceSeconds.map { seconds in
                    seconds * 1e9 >= Double(now) ? 0 : now - UInt64(max(0, seconds) * 1e9)
                }
                if let since {
                    for entry in hub.recent(since: since) where filter.admits(entry.tag) { client.sendLine(entry.line) }
                }
                if filter.follow {
                    client.filter = filter
                } else {
                    client.send(ControlResponse.endOfStream)
                    client.closeWhenFlushed = true
                }
            }
        } catch let error as ControlError {
            client.send(ControlResponse.failure(error))
        } catch {
            client.send(ControlResponse.failure(ControlError("failed", "\(request.name): \(error)")))
        }
    }

    /// What a session's own `ebguard run` is sent: what it shows (its denials, asks, audits,
    /// answers) and its session notes, or with `--quiet` the notes alone. A governed loop of
    /// allowed opens, or of denials under `--quiet`, is not decoded twice for nothing.
    static func ownerFilter(_ managed: ManagedSession) -> EventFilter {
        if managed.ownerIsQuiet { return EventFilter(sessions: [managed.record.key], kinds: [GovernedEvent.Kind.session.rawValue]) }
        var filter = EventFilter(sessions: [managed.record.key],
                                 kinds: GovernedEvent.Kind.allCases.filter { $0 != .process }.map(\.rawValue), notable: true)
        // A learning session audits every operation: its run shows what enforcing would refuse.
        filter.hidesAudits = managed.record.learn == true
        return filter
    }

    func find(_ selector: String) throws -> ManagedSession {
        let matching = sessions.values.filter { $0.matches(selector) }
        guard !matching.isEmpty else { throw ControlError("no-session", "no session \"\(selector.prefix(80))\" (see ebguard sessions)") }
        if let exact = matching.first(where: { $0.record.key == selector || String($0.record.id) == selector }) { return exact }
        guard matching.count == 1 else {
            throw ControlError("ambiguous", "several sessions are named \(selector): "
                               + matching.map(\.record.key).sorted().joined(separator: ", "))
        }
        return matching[0]
    }

    static func compile(_ text: PolicyText, home: String, workspace: String) throws -> CompiledPolicies.Compiled {
        do {
            let policy = try Policy.parse(yaml: text.yaml, file: text.source)
            return CompiledPolicies.Compiled(policy: policy.compile(in: try PolicyContext(home: home, workspace: workspace)),
                                             capabilities: policy.capabilities)
        } catch let error as PolicyError {
            throw ControlError("policy", "policy \(text.source) is not valid; nothing changed",
                               diagnostics: error.diagnostics.map(\.description))
        } catch {
            throw ControlError("policy", "\(text.source): \(error)")
        }
    }

    private func register(_ request: SessionRequest, peer: PeerCredentials) throws -> ManagedSession {
        guard peer.uid == 0 else { throw ControlError("refused", "only root may start sessions") }
        let name = request.name
        guard !name.isEmpty, name.count <= 64, !name.contains("/"), name != ".", name != ".." else {
            throw ControlError("invalid", "session name must be 1-64 characters without '/'")
        }
        let compiled = try compiledPolicies.compiled(request.policy, home: request.home, workspace: request.workspace) {
            try Self.compile(request.policy, home: request.home, workspace: request.workspace)
        }
        var policy = compiled.policy
        if request.shadow == true { policy.mode = .shadow }
        if request.learn == true { policy = policy.learning() }
        let session: Session
        let holder = ResolverHolder()
        do {
            session = try Session(name: name, policy: policy, enforcer: enforcer, ownEventChannel: false,
                                  hostLimits: configuration.resolver.limits,
                                  resolver: resolverStarter(policy: policy, holder: holder))
        } catch let error as PolicyMaps.CompileError {
            throw ControlError("policy", "policy \(request.policy.source) cannot be enforced: \(error)")
        }
        let record = SessionRecord(id: session.id, name: name, key: (session.cgroup.path as NSString).lastPathComponent,
                                   cgroup: session.cgroup.path, policy: request.policy, policyID: session.installed.policyID,
                                   home: request.home, workspace: request.workspace, uid: request.uid, user: request.user,
                                   started: EventClock.bootNanoseconds(), command: request.command, shadow: request.shadow,
                                   learn: request.learn)
        do { try store.save(record) } catch {
            session.end()
            holder.resolver?.stop()
            throw error
        }
        let managed = ManagedSession(session: session, record: record, policy: policy, resolver: holder.resolver)
        managed.commandPrivileges = ManagedSession.CommandPrivileges(noNewPrivs: compiled.policy.noNewPrivs,
                                                                     capabilities: compiled.capabilities)
        sessions[record.id] = managed
        loadOverlay(into: managed, context: policy.context)
        publish(sessionEvent(managed, change: .start,
                             message: "session \(record.key) started under policy \(policy.name) (\(request.policy.source))"))
        log("session \(record.key) started by pid \(peer.pid) under \(request.policy.source)"
            + (request.learn == true ? " in LEARNING mode (shadow, allows audited: not enforcing)"
               : policy.mode == .shadow ? " in SHADOW mode (not enforcing)" : ""))
        return managed
    }

    /// Hot reload. The record names both policies while the swap runs, so a daemon killed
    /// in the middle knows which one the kernel applies.
    private func apply(_ text: PolicyText, to managed: ManagedSession, by peer: PeerCredentials) throws {
        var policy = try compiledPolicies.compiled(text, home: managed.record.home, workspace: managed.record.workspace) {
            try Self.compile(text, home: managed.record.home, workspace: managed.record.workspace)
        }.policy
        if managed.record.shadow == true { policy.mode = .shadow }
        if managed.record.learn == true { policy = policy.learning() }
        let replacement: PolicyMaps
        do {
            replacement = try PolicyMaps(policy, policyID: try enforcer.freshPolicyID())
        } catch let error as PolicyMaps.CompileError {
            throw ControlError("policy", "policy \(text.source) cannot be enforced: \(error); nothing changed")
        }
        let previousSHA256 = managed.record.policy.sha256
        var record = managed.record
        record.previousPolicy = record.policy
        record.previousPolicyID = record.policyID
        record.policy = text
        record.policyID = replacement.policyID
        try store.save(record)
        do {
            try managed.session.replacePolicy(with: replacement)
        } catch {
            try? store.save(managed.record)
            throw ControlError("apply", "the new rules could not be installed (\(error)); the old policy stays")
        }
        record.previousPolicy = nil
        record.previousPolicyID = nil
        managed.record = record
        try? store.save(record)
        let previousName = managed.policy.name
        managed.replace(policy: policy)
        let changedBy = "\(processes.userName(peer.uid) ?? "uid:\(peer.uid)") (pid \(peer.pid))"
        publish(sessionEvent(managed, change: .policy,
                             message: "session \(record.key): policy \(previousName) replaced by \(policy.name) (\(text.source)) by pid \(peer.pid)"),
                audit: AuditContext(facts: managed.auditFacts, previousSHA256: previousSHA256, changedBy: changedBy))
        log("session \(record.key): policy replaced by \(text.source)")
    }

    func closeClient(_ fd: Int32, endingOwnedSession: Bool = true) {
        guard let client = clients.removeValue(forKey: fd) else { return }
        if let id = client.ownedSession, let managed = sessions[id], managed.owner == fd {
            managed.owner = nil
            if endingOwnedSession { endSession(id, reason: "its ebguard run disconnected") }
        }
    }

    func flushClients() {
        for (fd, client) in clients {
            if !client.flush() {
                closeClient(fd)
            } else if client.closeWhenFlushed && !client.hasPendingOutput {
                closeClient(fd)
            }
        }
    }

    /// `full`, or `degraded` where exec and file rules are only observed.
    var mode: String { enforcer.coverage.execAndFile ? "full" : "degraded" }

    func status() -> StatusReport {
        let links = ((try? FileManager.default.contentsOfDirectory(atPath: enforcer.pinRoot)) ?? [])
            .filter { $0.hasPrefix("link-") }.sorted()
        let programs = enforcer.programStatistics(links: links).map { link, stats in
            ProgramInfo(name: String(link.dropFirst("link-".count)), id: stats.programID, runCount: stats.runCount,
                        runTimeNanoseconds: stats.runTimeNanoseconds, nanosecondsPerCall: stats.nanosecondsPerCall)
        }
        let coverage = enforcer.coverage
        let lost = (try? enforcer.lostEvents()) ?? []
        return StatusReport(
            version: configuration.version, pid: getpid(),
            uptimeSeconds: Double(EventClock.bootNanoseconds() - startedAt) / 1e9,
            mode: mode,
            coverage: ["network": coverage.network, "exec_and_file": coverage.execAndFile, "unix_sockets": coverage.unixSockets,
                       "observed_exec": coverage.observedExec, "self_protection": coverage.selfProtection],
            programs: programs,
            sessions: sessions.values.sorted { $0.record.started < $1.record.started }.map { $0.info(clock: clock) },
            eventsTotal: hub.total, eventsRepeated: hub.repeated, eventsPerSecond: hub.eventsPerSecond, lostPerCPU: lost, lostTotal: lost.reduce(0, +),
            subscriberDrops: hub.subscriberDrops, subscribers: clients.values.filter { $0.filter != nil }.count,
            warnings: warnings + (statisticsEnabled ? [] : ["BPF run-time statistics are off: per-hook cost unknown"]),
            audit: audit?.report())
    }
}
