import EbguardEnforcement
import EbguardPolicy
import Foundation
import Synchronization

/// The resolvers of the daemon's sessions: each runs on its own threads; its events and asks
/// come back to the loop through the mailbox, where they are published and queued like the
/// kernel's.
extension Daemon {
    /// Starts a session's resolver (new or adopted) once the session's id is known.
    func resolverStarter(policy: CompiledPolicy, holder: ResolverHolder) -> (UInt64, HostAllowances) throws -> UInt16 {
        let mailbox = self.mailbox
        let upstream = configuration.resolver.upstream
        let limits = configuration.resolver.dnsLimits
        let names = policy.hostRulesOnly
        // A worker waits a little past the ask's own deadline, where on_timeout answers it.
        let wait = Double(policy.askTimeout) + 10
        return { sessionID, hosts in
            let gate = HostGate(policy: names, hosts: hosts, ask: { name, type, rule in
                let reply = HostAskReply()
                mailbox.post(.hostAsk(sessionID: sessionID, name: name, type: type, rule: rule?.description, reply: reply))
                return reply.wait(seconds: wait) ?? HostGate.AskAnswer(allow: false, remembered: false)
            }, report: { event in
                mailbox.post(.hostEvent(sessionID: sessionID, event))
            })
            let resolver = try SessionResolver(upstream: upstream, gate: gate, limits: limits)
            holder.resolver = resolver
            return resolver.port
        }
    }

    /// A resolver's event, on the loop's thread.
    func publish(_ host: HostEvent, sessionID: UInt64) {
        guard let managed = sessions[sessionID] else { return }
        var event = sessionEvent(managed, action: "resolve", subject: .lookup(name: host.name, queryType: host.queryType),
                                 message: host.message)
        event.kind = .network
        event.pid = 0
        event.comm = "?"
        event.verdict = host.reportedVerdict
        event.blocked = host.blocked
        event.object = host.name
        event.detail = host.queryType
        event.rule = host.rule?.description
        event.ruleLocation = event.rule.flatMap { managed.ruleLocations[$0] }
        event.reason = EventReason(host.reason)
        event.host = host.name
        event.addresses = host.addresses.isEmpty ? nil : host.addresses
        event.cnames = host.cnames.isEmpty ? nil : host.cnames
        event.flags = host.flags.isEmpty ? nil : host.flags
        publish(event)
    }

    /// An ask rule covers a name a session looked up: queued like any ask; the resolver's
    /// worker waits on `reply`.
    func raiseHostAsk(sessionID: UInt64, name: String, type: String, rule: String?, reply: HostAskReply) {
        guard let managed = sessions[sessionID] else {
            reply.answer(HostGate.AskAnswer(allow: false, remembered: false))
            return
        }
        let (line, id) = enqueueAsk(summary: "resolve \(name) (\(type))", kind: "network", subject: .host(name: name),
                                    pid: 0, comm: "?", argv: nil, object: name, detail: "dns", rule: rule,
                                    managed: managed, heldPID: nil)
        guard let id else {
            reply.answer(HostGate.AskAnswer(allow: false, remembered: false))
            publish(HostEvent(name: name, queryType: type, verdict: .ask, blocked: true, rule: nil, pattern: nil, reason: "ask",
                              addresses: [], cnames: [], flags: [], message: line), sessionID: sessionID)
            return
        }
        hostWaiters[id, default: []].append(reply)
        var event = sessionEvent(managed, action: "ask", subject: .lookup(name: name, queryType: type), message: line)
        event.kind = .decision
        // A datagram does not say which process sent it.
        event.pid = 0
        event.comm = "?"
        event.verdict = .ask
        event.blocked = true
        event.object = name
        event.detail = type
        event.rule = rule
        event.ruleLocation = rule.flatMap { managed.ruleLocations[$0] }
        event.reason = .ask
        event.askID = id
        event.host = name
        publish(event)
    }

    /// The operator's answer (or on_timeout) reaches the resolver's waiting workers.
    func answerHostAsk(id: Int, allow: Bool, remembered: Bool) {
        for reply in hostWaiters.removeValue(forKey: id) ?? [] {
            reply.answer(HostGate.AskAnswer(allow: allow, remembered: remembered))
        }
    }
}

/// Where a session's resolver is kept once its starter ran (inside `Session`'s init).
final class ResolverHolder: @unchecked Sendable {
    var resolver: SessionResolver?
}

/// One resolver worker waiting for an operator.
final class HostAskReply: Sendable {
    private let value = Mutex<HostGate.AskAnswer?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func answer(_ answer: HostGate.AskAnswer) {
        value.withLock { $0 = answer }
        ready.signal()
    }

    func wait(seconds: Double) -> HostGate.AskAnswer? {
        guard ready.wait(timeout: .now() + seconds) == .success else { return nil }
        return value.withLock { $0 }
    }
}
