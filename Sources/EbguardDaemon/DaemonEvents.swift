import EbguardAudit
import EbguardEnforcement
import EbguardPolicy
import Foundation
import Glibc

extension Daemon {
    /// One ring-buffer record: decode, enrich, publish. Runs on the loop's thread, at the
    /// kernel's pace, so it never blocks: subscribers only get lines appended to buffers.
    func receive(_ record: UnsafeRawBufferPointer) {
        if publishRepeat(record) { return }
        repeatCache.forget()
        let decision: DecisionEvent
        switch SessionEvent(record: record, hosts: { sessions[$0]?.session.hosts }) {
        case .decision(let event)?:
            decision = event
        case .held(let event)?:
            // Stopped at exec for its argv: the policy decides once the command line is readable.
            if sessions[event.sessionID] != nil {
                resolveHold(pid: pid_t(event.pid), path: event.objectText, sessionID: event.sessionID)
            }
            return
        case .process(let process)?:
            receive(process)
            return
        case nil:
            return
        }
        let managed = sessions[decision.sessionID]
        if decision.isUnheld {
            // Shadow: left running; judged once its exec event brings the argv (below).
            managed?.unheld.note(decision)
            return
        }
        let facts = processes.facts(of: decision.pid)
        let object = decision.objectText
        var message = decision.message(home: managed?.record.home, objectText: object)
        var askID: Int?
        if let managed, decision.verdict == .ask, decision.blocked, decision.reason == .rule {
            (message, askID) = raiseAsk(for: decision, managed: managed)
        }
        // The rule's text is both the location's key and the event's `rule`.
        let rule = decision.rule?.description
        let ruleLocation = rule.flatMap { managed?.ruleLocations[$0] }
        let event = GovernedEvent(
            decision, time: clock.rfc3339(bootNanoseconds: decision.time, cache: timeText),
            session: managed?.record.key ?? "session-\(decision.sessionID)", ppid: facts.ppid,
            user: processes.userName(decision.uid), exe: facts.exe,
            ruleLocation: ruleLocation, message: message, askID: askID, objectText: object, ruleText: rule)
        // Asks and host-name decisions say more than their record: never published as repeats.
        let repeatable = askID == nil && decision.verdict != .ask && decision.hostID == 0
        publish(event, bootNanoseconds: decision.time, from: repeatable ? record : nil)
    }

    /// Process life: keeps the process facts that enrich later events, and publishes it.
    private func receive(_ process: ProcessEvent) {
        let managed = sessions[process.sessionID]
        var exe: String?
        var exitCode: Int32?
        let message: String
        switch process.kind {
        case .exec:
            let filename = process.filename ?? ""
            exe = filename.hasPrefix("/") ? filename : processes.facts(of: process.pid).exe ?? filename
            processes.exec(pid: process.pid, ppid: process.ppid, exe: exe ?? filename, argv: process.argv)
            message = "exec \(process.argv.joined(separator: " "))\(process.argvTruncated ? " ..." : "")"
        case .fork:
            processes.fork(parent: process.ppid, child: process.pid)
            exe = processes.facts(of: process.pid).exe
            message = "fork \(process.ppid) -> \(process.pid)"
        case .exit:
            exe = processes.facts(of: process.pid).exe
            exitCode = process.exitCode ?? process.signal.map { 128 + $0 }
            message = process.signal.map { "exit by signal \($0)" } ?? "exit \(process.exitCode ?? 0)"
        }
        let argv = process.kind == .exec ? process.argv : nil
        let event = GovernedEvent(
            seq: 0, time: clock.rfc3339(bootNanoseconds: process.time, cache: timeText), kind: .process, action: process.kind.rawValue,
            session: managed?.record.key ?? "session-\(process.sessionID)", sessionID: process.sessionID, pid: process.pid,
            ppid: process.ppid, uid: process.uid, user: processes.userName(process.uid), comm: process.comm, exe: exe,
            argv: argv, verdict: .allow, blocked: false, object: exe ?? process.comm,
            detail: process.argvTruncated ? "argv truncated" : "", rule: nil, ruleLocation: nil, reason: .observed,
            exitCode: exitCode, message: message)
        if process.kind == .exit { processes.exit(pid: process.pid) }
        publish(event, bootNanoseconds: process.time)
        if let managed, let judged = managed.unheld.judge(process, policy: managed.policy) {
            publishUnheld(judged.path, argv: judged.argv, decision: judged.decision, process: process, managed: managed)
        }
    }

    /// A shadow session's exec that argv or ask rules would have held, as the policy judges
    /// its command line: would_deny/would_ask (it ran), audit when the policy audits it (a learning
    /// session's allows too: the trail must hold them), nothing when it plainly allows it.
    private func publishUnheld(_ path: String, argv: [String], decision: EbguardPolicy.Decision, process: ProcessEvent,
                               managed: ManagedSession) {
        let audited = decision.verdict == .audit
            ? "audited exec \(argv.isEmpty ? path : argv.joined(separator: " ")) \(decision.rule.map { "by rule \($0)" } ?? "by the exec default")"
            : nil
        guard let message = UnheldExecs.message(argv: argv, path: path, decision: decision) ?? audited else { return }
        let rule = decision.rule?.description
        var event = GovernedEvent(
            seq: 0, time: clock.rfc3339(bootNanoseconds: process.time, cache: timeText), kind: .exec, action: "exec",
            session: managed.record.key, sessionID: process.sessionID, pid: process.pid, ppid: process.ppid, uid: process.uid,
            user: processes.userName(process.uid), comm: process.comm, exe: path, argv: argv,
            verdict: decision.verdict == .deny ? .wouldDeny : decision.verdict == .ask ? .wouldAsk : .audit, blocked: false,
            object: path, detail: "exec",
            rule: rule, ruleLocation: rule.flatMap { managed.ruleLocations[$0] },
            reason: rule == nil ? .default : .rule, exitCode: nil, message: message)
        event.subject = .kernel(.exec, .path(path), accessMask: 0)
        publish(event, bootNanoseconds: process.time)
    }

    /// Numbers the event, keeps it for `--since`, hands it to every matching subscriber, and
    /// the decision-relevant ones to the audit log. `audit` supplies what the event does not
    /// carry (policy hashes) when the session is not, or no longer, in `sessions`. `record`, the
    /// ring record a kernel decision came from, lets its repeats be published from the cache.
    func publish(_ event: consuming GovernedEvent, bootNanoseconds: UInt64 = EventClock.bootNanoseconds(),
                 audit context: AuditContext? = nil, from record: UnsafeRawBufferPointer? = nil) {
        var event = event
        event.seq = hub.total + 1
        var tailStart = 0
        let line = event.jsonBytes(tailStart: &tailStart)
        let tag = EventTag(event)
        deliver(EventHub.Entry(bootNanoseconds: bootNanoseconds, tag: tag, line: line))
        let trail = addToTrail(&event, bootNanoseconds: bootNanoseconds, context: context)
        if let record, let trail {
            repeatCache.remember(record, line: line, tailStart: tailStart, tag: tag, trail: trail)
        } else {
            repeatCache.forget()
        }
    }

    /// Keeps the entry for `--since` and hands its line to every subscriber whose filter admits it.
    func deliver(_ entry: EventHub.Entry) {
        hub.record(entry)
        if let managed = sessions[entry.tag.sessionID] {
            managed.events += 1
            if entry.tag.blocked { managed.denied += 1 }
        }
        for client in clients.values {
            guard let filter = client.filter, filter.admits(entry.tag) else { continue }
            if client.pendingBytes > configuration.subscriberBufferLimit {
                client.dropped += 1
                hub.subscriberDrops += 1
                continue
            }
            if client.dropped > 0 {
                client.send(ControlResponse.notice("lost \(client.dropped) events: this subscriber fell behind"))
                client.dropped = 0
            }
            client.sendLine(entry.line)
            // A burst can take the loop a while: let subscribers drain as it goes, not after.
            if client.pendingBytes > 256 << 10 { _ = client.flush() }
        }
    }

    /// Hands the event's record to the audit sink, unless it repeats one already written (then
    /// it is counted). Returns how a repeat of it would go in: nil when that is not known
    /// without mapping it again (the repeat is then published in full).
    private func addToTrail(_ event: inout GovernedEvent, bootNanoseconds: UInt64, context: AuditContext?) -> RepeatCache.Trail? {
        guard let audit else { return .notRecorded }
        // Only session records use the context; decisions come at the ring's pace.
        let context = event.kind == .session ? context ?? sessions[event.sessionID].map { AuditContext(facts: $0.auditFacts) } : nil
        if event.subject == .session(.end) { submitRepeats(session: event.session) }
        // The time the kernel decided (its stamp in the ring record), not when the loop got to
        // it: a burst read at once would otherwise share one time. Session records: now.
        let time = AuditTime(nanoseconds: clock.realNanoseconds(bootNanoseconds: bootNanoseconds))
        if event.kind != .session, auditRepeats.countRepeat(of: &event, at: time) {
            return .latest(generation: auditRepeats.latestGeneration)
        }
        guard let record = AuditMapping.record(for: event, context: context) else { return .notRecorded }
        guard case .decision(let decision) = record else {
            audit.submit(record, at: time)
            return nil
        }
        if auditRepeats.admit(decision, at: time, from: event) { audit.submit(record, at: time) }
        return auditRepeats.admittedIsLatest ? .latest(generation: auditRepeats.latestGeneration) : nil
    }

    /// A session's start, end or policy change.
    func sessionEvent(_ managed: ManagedSession, change: SessionChange, message: String) -> GovernedEvent {
        sessionEvent(managed, action: change.rawValue, subject: .session(change), message: message)
    }

    /// An event of `managed` the daemon itself raises (a decision on a held exec, an ask, an
    /// answer, a lookup): a session event the caller then makes what it is.
    func sessionEvent(_ managed: ManagedSession, action: String, subject: EventSubject, message: String) -> GovernedEvent {
        var event = GovernedEvent(
            seq: 0, time: clock.rfc3339(bootNanoseconds: EventClock.bootNanoseconds()), kind: .session,
            action: action, session: managed.record.key, sessionID: managed.record.id, pid: UInt32(getpid()),
            ppid: nil, uid: managed.record.uid, user: managed.record.user, comm: "ebguard", exe: nil, argv: nil,
            verdict: .allow, blocked: false, object: managed.policy.name, detail: managed.record.policy.source,
            rule: nil, ruleLocation: nil, reason: EventReason(action), exitCode: nil, message: message)
        event.subject = subject
        return event
    }

    /// A daemon-level note (start, stop, refusals) as a session-less event.
    func publishDaemonNote(_ message: String) {
        publish(GovernedEvent(seq: 0, time: clock.rfc3339(bootNanoseconds: EventClock.bootNanoseconds()), kind: .session,
                              action: "daemon", session: "", sessionID: 0, pid: UInt32(getpid()), ppid: nil, uid: 0,
                              user: "root", comm: "ebguard", exe: nil, argv: nil, verdict: .allow, blocked: false,
                              object: "daemon", detail: "", rule: nil, ruleLocation: nil, reason: EventReason("daemon"),
                              exitCode: nil, message: message, subject: .daemon))
    }

    /// Writes the repeats `auditRepeats` counted: once a second, for a session at its end (before
    /// its `session_stop`), and everything at shutdown.
    func submitRepeats(session: String? = nil, all: Bool = false) {
        guard let audit else { return }
        let now = AuditTime.now()
        for summary in auditRepeats.drain(at: now, session: session, forgetAll: all) { audit.submit(.decision(summary), at: now) }
    }
}
