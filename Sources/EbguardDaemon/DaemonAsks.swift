import EbguardEnforcement
import EbguardPolicy
import Foundation
import Glibc

/// Interactive decisions: `ask` rules raise pending requests; an operator's answer resumes or
/// kills a held exec, or is written into the kernel's answer maps for the retry.
extension Daemon {
    /// A file or network access the kernel refused because a rule says ask. Returns the
    /// line for the event (waiting for approval, or why it was not queued).
    func raiseAsk(for decision: DecisionEvent, managed: ManagedSession) -> (line: String, id: Int?) {
        let subject: AskSubject
        switch decision.kind {
        case .file:
            guard decision.inode != 0, let path = decision.path else {
                return ("denied \(decision.action) \(decision.objectText) (\(decision.detail)): ask, but it does not exist yet, so it cannot be approved", nil)
            }
            subject = .file(device: decision.device, inode: decision.inode, accessMask: decision.accessMask, path: path)
        case .network:
            guard let destination = decision.destination else { return (decision.message(home: managed.record.home), nil) }
            subject = .network(destination)
        default:
            return (decision.message(home: managed.record.home), nil)
        }
        let object = decision.objectText
        let summary = "\(decision.action) \(object) (\(decision.detail))"
        return enqueueAsk(summary: summary, kind: decision.kind == .file ? "file" : "network", subject: subject,
                       pid: decision.pid, comm: decision.comm, argv: nil, object: object, detail: decision.detail,
                       rule: decision.rule?.description, managed: managed, heldPID: nil)
    }

    /// An exec held by the kernel whose command line the policy answers with ask.
    func raiseExecAsk(_ outcome: HeldExec.Outcome, path: String, managed: ManagedSession) {
        let args = Array(outcome.argv.dropFirst())
        if let known = managed.execAnswers[ExecAnswerKey(executable: outcome.executable, arguments: args)] {
            finishHeld([outcome.pid], allow: known)
            publishAnswerEvent(managed, pid: UInt32(outcome.pid), comm: processComm(outcome.pid), subject: .heldExec(path: path),
                               detail: "exec", object: path, argv: outcome.argv, allow: known,
                               scope: .session, by: "earlier answer", askID: nil,
                               message: "\(known ? "allowed" : "denied") exec \(outcome.argv.joined(separator: " ")) "
                                   + "(\(known ? "approved" : "blocked") by the operator earlier in this session)")
            return
        }
        let summary = "exec \(outcome.argv.joined(separator: " "))"
        let (line, id) = enqueueAsk(summary: summary, kind: "exec", subject: .exec(executable: outcome.executable, path: path, argv: outcome.argv),
                           pid: UInt32(outcome.pid), comm: processComm(outcome.pid), argv: outcome.argv, object: path,
                           detail: "exec", rule: outcome.decision.rule?.description, managed: managed, heldPID: outcome.pid)
        var event = sessionEvent(managed, action: "ask", subject: .heldExec(path: path), message: line)
        event.kind = .decision
        event.pid = UInt32(outcome.pid)
        event.comm = processComm(outcome.pid)
        event.verdict = .ask
        event.blocked = true
        event.object = path
        event.argv = outcome.argv
        event.rule = outcome.decision.rule?.description
        event.ruleLocation = event.rule.flatMap { managed.ruleLocations[$0] }
        event.reason = .ask
        event.askID = id
        publish(event)
    }

    func enqueueAsk(summary: String, kind: String, subject: AskSubject, pid: UInt32, comm: String, argv: [String]?,
                         object: String, detail: String, rule: String?, managed: ManagedSession, heldPID: pid_t?) -> (line: String, id: Int?) {
        // A repeat of a pending request only counts: no /proc reads for the hundredth retry.
        if let id = asks.coalesce(sessionID: managed.record.id, subject: subject, heldPID: heldPID) {
            return ("waiting for approval #\(id): \(summary) (again)", id)
        }
        let now = EventClock.bootNanoseconds()
        let timeout = managed.policy.askTimeout
        let request = PendingRequest(
            id: 0, session: managed.record.key, sessionID: managed.record.id, kind: kind, pid: pid, comm: comm, argv: argv,
            cwd: readLink("/proc/\(pid)/cwd"), object: object, detail: detail, rule: rule,
            ruleLocation: rule.flatMap { managed.ruleLocations[$0] }, created: clock.rfc3339(bootNanoseconds: now),
            expires: clock.rfc3339(bootNanoseconds: now + UInt64(timeout) * 1_000_000_000),
            onTimeout: managed.policy.onTimeout.rawValue, hits: 1, tree: processTree(from: pid), summary: summary)
        switch asks.admit(request, subject: subject, heldPID: heldPID, now: now, timeoutSeconds: timeout,
                          onTimeoutAllows: managed.policy.onTimeout == .allow) {
        case .added(let id):
            // The event carrying this line reaches the session's `ebguard run`, which prints it.
            return ("waiting for approval #\(id): \(summary) (run: ebguard prompt)", id)
        case .coalesced(let id):
            return ("waiting for approval #\(id): \(summary) (again)", id)
        case .refused(let why):
            if let heldPID { finishHeld([heldPID], allow: false) }
            return ("denied \(summary): ask not queued (\(why))", nil)
        }
    }

    /// Applies an operator's answer. Governed peers never get here (the peer check refuses them).
    func answer(_ request: AnswerRequest, by peer: PeerCredentials) throws -> PendingRequest {
        guard let entry = asks.entries[request.id] else {
            throw ControlError("no-request", "no pending request #\(request.id) (see ebguard pending)")
        }
        guard let managed = sessions[entry.request.sessionID] else {
            _ = asks.remove(request.id)
            throw ControlError("no-session", "the session of request #\(request.id) has ended")
        }
        let who = processes.userName(peer.uid) ?? "uid:\(peer.uid)"
        try apply(entry, allow: request.allow, scope: request.scope, managed: managed, by: who)
        _ = asks.remove(request.id)
        return entry.request
    }

    /// Requests nobody answered in time get the policy's `on_timeout` verdict, once.
    func expireAsks() {
        for id in asks.expired(now: EventClock.bootNanoseconds()) {
            guard let entry = asks.remove(id) else { continue }
            guard let managed = sessions[entry.request.sessionID] else { continue }
            try? apply(entry, allow: entry.onTimeoutAllows, scope: .once, managed: managed, by: "timeout")
        }
    }

    private func apply(_ entry: AskQueue.Entry, allow: Bool, scope: AnswerScope, managed: ManagedSession, by who: String) throws {
        let once = scope == .once
        switch entry.subject {
        case .exec(let executable, let path, let argv):
            finishHeld(entry.heldPIDs, allow: allow)
            if !once { managed.execAnswers[ExecAnswerKey(executable: executable, arguments: Array(argv.dropFirst()))] = allow }
            if scope == .always {
                var rule = "{ action: \(allow ? "allow" : "deny"), path: \(OverlayStore.scalar(path))"
                if argv.count > 1 { rule += ", argv: [" + argv.dropFirst().map(OverlayStore.scalar).joined(separator: ", ") + "]" }
                try overlays.append(policy: managed.policy.name, domain: "exec", rule: rule + " }",
                                    comment: "#\(entry.request.id) answered by \(who) at \(clock.rfc3339(bootNanoseconds: EventClock.bootNanoseconds()))")
            }
        case .file(let device, let inode, let mask, let path):
            // A deny answer for once needs no entry: the access stays denied by the ask itself.
            if allow || !once {
                try kernelAnswers.file(sessionID: managed.record.id, device: device, inode: inode, accessMask: mask,
                                       allow: allow, once: once)
            }
            if scope == .always {
                let access = DecisionEvent.accessNames(mask).split(separator: ",").joined(separator: ", ")
                try overlays.append(policy: managed.policy.name, domain: "file",
                                    rule: "{ action: \(allow ? "allow" : "deny"), path: \(OverlayStore.scalar(path)), access: [\(access)] }",
                                    comment: "#\(entry.request.id) answered by \(who)")
            }
        case .host(let name):
            answerHostAsk(id: entry.request.id, allow: allow, remembered: !once)
            if scope == .always {
                try overlays.append(policy: managed.policy.name, domain: "network",
                                    rule: "{ action: \(allow ? "allow" : "deny"), host: \(OverlayStore.scalar(name)) }",
                                    comment: "#\(entry.request.id) answered by \(who)")
            }
        case .network(let destination):
            if allow || !once {
                try kernelAnswers.network(sessionID: managed.record.id, destination, allow: allow, once: once)
            }
            if scope == .always {
                let host = destination.addressText
                let prefix = destination.isIPv6 ? 128 : 32
                let proto = destination.protocolNumber == 17 ? "udp" : [1, 58].contains(destination.protocolNumber) ? "icmp" : "tcp"
                // ICMP has no ports (the parser refuses them on an icmp rule).
                let ports = proto == "icmp" ? "" : ", ports: [\(destination.port)]"
                try overlays.append(policy: managed.policy.name, domain: "network",
                                    rule: "{ action: \(allow ? "allow" : "deny"), cidr: \(OverlayStore.scalar("\(host)/\(prefix)"))\(ports), protocol: \(proto) }",
                                    comment: "#\(entry.request.id) answered by \(who)")
            }
        }
        let summary = entry.request.summary
        let message: String
        if who == "timeout" {
            message = "\(allow ? "allowed" : "denied") \(summary): no answer in time (on_timeout \(allow ? "allow" : "deny"), #\(entry.request.id))"
        } else if allow {
            message = "approved by the operator: \(summary) (#\(entry.request.id), scope \(scope.rawValue))"
                + (entry.request.kind == "exec" ? "" : "; the retry will pass")
        } else {
            message = "denied \(summary): blocked by the operator (#\(entry.request.id), scope \(scope.rawValue))"
        }
        // A network answer's detail is its transport (`tcp`), as the decision's is.
        publishAnswerEvent(managed, pid: entry.request.pid, comm: entry.request.comm, subject: entry.subject.eventSubject,
                           detail: entry.request.kind == "network" ? entry.request.detail : entry.request.kind,
                           object: entry.request.object, argv: entry.request.argv, allow: allow, scope: scope, by: who,
                           askID: entry.request.id, message: message)
    }

    func finishHeld(_ pids: [pid_t], allow: Bool) {
        for pid in pids { enforcer.holdAnswers.answer(pid: pid, allow: allow) }
    }

    private func publishAnswerEvent(_ managed: ManagedSession, pid: UInt32, comm: String, subject: EventSubject, detail: String,
                                    object: String, argv: [String]?, allow: Bool, scope: AnswerScope, by who: String, askID: Int?,
                                    message: String) {
        var event = sessionEvent(managed, action: "answer", subject: subject, message: message)
        event.kind = .decision
        event.pid = pid
        event.comm = comm
        event.verdict = allow ? .allow : .deny
        event.blocked = !allow
        event.object = object
        event.detail = detail
        event.argv = argv
        event.reason = who == "timeout" ? .timeout : .answered
        event.askID = askID
        event.answeredBy = who
        event.scope = scope
        publish(event)
    }

    /// Loads a new session's `always` answers from its policy's overlay.
    func loadOverlay(into managed: ManagedSession, context: PolicyContext) {
        let overlay: CompiledPolicy?
        do { overlay = try overlays.load(policy: managed.policy.name, context: context) } catch {
            warnings.append("overlay of policy \(managed.policy.name) not loaded: \(error)")
            return
        }
        guard let overlay else { return }
        for rule in overlay.exec {
            guard case .exact(let path) = rule.matcher else { continue }
            let key = ExecAnswerKey(executable: HeldExec.FileIdentity.of(path: path), arguments: rule.argv?.tokens ?? [])
            managed.execAnswers[key] = rule.verdict == .allow
        }
        for rule in overlay.file {
            guard case .exact(let path) = rule.matcher, let identity = HeldExec.FileIdentity.of(path: path) else { continue }
            try? kernelAnswers.file(sessionID: managed.record.id, device: KernelAnswers.kernelDevice(identity.device),
                                    inode: identity.inode, accessMask: UInt32(rule.access.rawValue), allow: rule.verdict == .allow, once: false)
        }
        for rule in overlay.hostRules {
            guard case .exact(let name) = rule.host?.pattern else { continue }
            managed.resolver?.gate.remember(name: name, allow: rule.verdict == .allow)
        }
        for rule in overlay.addressRules {
            guard let address = rule.address, let port = address.ports.ranges.first, port.low == port.high,
                  let destination = Self.destination(address.network, port: port.low, protocol: address.protocol) else { continue }
            try? kernelAnswers.network(sessionID: managed.record.id, destination, allow: rule.verdict == .allow, once: false)
        }
    }

    /// The kernel's view of a single-address rule: IPv4 (mapped IPv6 included) in the first 4 bytes.
    static func destination(_ network: IPNetwork, port: UInt16, protocol proto: NetworkProtocol) -> DecisionEvent.Destination? {
        guard network.prefixLength == network.address.bitWidth, proto != .any else { return nil }
        var bytes = network.address.bytes
        var family = UInt8(AF_INET)
        if bytes.count == 16 {
            if bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] { bytes = Array(bytes.suffix(4)) } else { family = UInt8(AF_INET6) }
        }
        return DecisionEvent.Destination(family: family, protocolNumber: proto.ipProtocol(ipv4: family == UInt8(AF_INET)), port: port,
                                         address: bytes + Array(repeating: 0, count: 16 - bytes.count))
    }

    private func processComm(_ pid: pid_t) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The asking process and its ancestors, nearest first, as far as /proc tells (8 at most).
    private func processTree(from pid: UInt32) -> [ProcessNode] {
        var nodes: [ProcessNode] = []
        var current = pid
        while current > 1 && nodes.count < 8 {
            let comm = processComm(pid_t(current))
            let argv = (FileManager.default.contents(atPath: "/proc/\(current)/cmdline"))
                .map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } }
            nodes.append(ProcessNode(pid: current, comm: comm, argv: argv))
            guard let parent = processes.facts(of: current).ppid, parent != current,
                  PeerCheck(parentName: configuration.parentName).governedSession(
                      cgroupFile: (try? String(contentsOfFile: "/proc/\(parent)/cgroup", encoding: .utf8)) ?? "") != nil
            else { break }
            current = parent
        }
        return nodes
    }

    private func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        buffer[count] = 0
        return String(cString: buffer)
    }
}

/// An exec answer: the program as the kernel knows it, with the exact arguments approved.
struct ExecAnswerKey: Hashable {
    let executable: HeldExec.FileIdentity?
    let arguments: [String]
}

extension AskSubject {
    /// What an answer to this request is about, as its event and audit record say.
    var eventSubject: EventSubject {
        switch self {
        case .exec(_, let path, _): .heldExec(path: path)
        case .file(_, _, let mask, let path): .file(path: path, accessMask: mask)
        case .network(let destination): .destination(destination)
        case .host(let name): .lookup(name: name, queryType: "dns")
        }
    }
}
