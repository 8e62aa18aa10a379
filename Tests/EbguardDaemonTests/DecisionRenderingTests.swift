import CEbguardABI
import EbguardAudit
import EbguardBPF
@testable import EbguardDaemon
@testable import EbguardEnforcement
import EbguardPolicy
import Foundation
import Glibc
import Testing

/// One kernel decision, decoded once, through every renderer: the line `ebguard run` prints,
/// the daemon's JSON line, and the audit record all say the same thing, each from the typed value.
struct DecisionRenderingTests {
    static func netRecord(family: Int32, address: [UInt8], port: UInt16, protocolNumber: UInt8, rule: UInt16,
                          verdict: eg_verdict, ret: Int32, reason: eg_reason = EG_REASON_RULE) -> eg_net_event {
        var event = eg_net_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_NET.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_net_event>.size), time_ns: 1)
        event.session_id = 42
        event.task.pid = 4242
        event.task.uid = 1000
        withUnsafeMutableBytes(of: &event.task.comm) { $0.copyBytes(from: Array("curl".utf8) + [0]) }
        event.family = UInt8(family)
        event.protocol = protocolNumber
        event.port = port
        event.rule = rule
        event.verdict = UInt8(verdict.rawValue)
        event.reason = UInt8(reason.rawValue)
        event.ret = ret
        withUnsafeMutableBytes(of: &event.addr) { $0.copyBytes(from: address) }
        return event
    }

    static func render(_ decision: DecisionEvent) throws -> (line: String, json: [String: Any], audit: AuditEvent?) {
        let event = GovernedEvent(decision, time: "2026-11-23T16:01:02.123Z", session: "claude-1a2b", ppid: 1, user: "u",
                                  exe: "/usr/bin/curl", ruleLocation: nil, message: decision.message(home: nil))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(event.jsonBytes())) as? [String: Any])
        return (decision.line(home: nil), json, AuditMapping.record(for: event, context: nil))
    }

    @Test func aDeniedIPv6ConnectSaysTheSameEverywhere() throws {
        let address: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
        let record = Self.netRecord(family: AF_INET6, address: address, port: 443, protocolNumber: 17, rule: 2,
                                    verdict: EG_VERDICT_DENY, ret: -EPERM)
        let decision = try #require(withUnsafeBytes(of: record) { DecisionEvent(record: $0) })
        #expect(decision.destination?.address == address && decision.rule == RuleID(.network, 2) && decision.verdict == .deny)
        let (line, json, audit) = try Self.render(decision)
        #expect(line == "ebguard: denied connect [2001:db8::1]:443 (udp) by rule network[2]")
        #expect(json["object"] as? String == "[2001:db8::1]:443" && json["detail"] as? String == "udp")
        #expect(json["verdict"] as? String == "deny" && json["reason"] as? String == "rule" && json["rule"] as? String == "network[2]")
        #expect(json["action"] as? String == "connect" && json["kind"] as? String == "network" && json["blocked"] as? Bool == true)
        guard case .decision(let d)? = audit else { Issue.record("no audit decision: \(String(describing: audit))"); return }
        #expect(d.kind == .network && d.object == "[2001:db8::1]:443/udp" && d.access == "connect" && d.rule == "network[2]")
        #expect(d.network == AuditNetworkTarget(address: "2001:db8::1", port: 443, transport: "udp") && d.verdict == .deny)
    }

    @Test func aUnixConnectAndARefusedSocketKeepTheirKinds() throws {
        var unix = Self.netRecord(family: AF_UNIX, address: [], port: 0, protocolNumber: 0, rule: UInt16(EG_RULE_DEFAULT),
                                  verdict: EG_VERDICT_DENY, ret: -EACCES, reason: EG_REASON_DEFAULT)
        unix.hdr.type = UInt16(EG_EVENT_UNIX.rawValue)
        withUnsafeMutableBytes(of: &unix.unix_path) { $0.copyBytes(from: Array("/run/docker.sock".utf8) + [0]) }
        unix.unix_len = UInt32("/run/docker.sock".utf8.count)
        let decision = try #require(withUnsafeBytes(of: unix) { DecisionEvent(record: $0) })
        let (line, json, audit) = try Self.render(decision)
        #expect(line == "ebguard: denied connect /run/docker.sock (unix) by the network default")
        #expect(json["detail"] as? String == "unix" && json["reason"] as? String == "default" && json["rule"] == nil)
        guard case .decision(let d)? = audit else { Issue.record("no audit decision"); return }
        #expect(d.kind == .unix && d.object == "/run/docker.sock" && d.network == nil && d.rule == "default")

        let socket = Self.netRecord(family: AF_PACKET, address: [], port: 3, protocolNumber: 0, rule: UInt16(EG_RULE_DEFAULT),
                                    verdict: EG_VERDICT_DENY, ret: -EACCES, reason: EG_REASON_SOCKET)
        let refused = try #require(withUnsafeBytes(of: socket) { DecisionEvent(record: $0) })
        let (socketLine, socketJSON, socketAudit) = try Self.render(refused)
        #expect(socketLine == "ebguard: denied create socket(family \(AF_PACKET), type 3, protocol 0) (socket) by the network default")
        #expect(socketJSON["action"] as? String == "create" && socketJSON["reason"] as? String == "socket")
        guard case .decision(let s)? = socketAudit else { Issue.record("no audit decision"); return }
        #expect(s.kind == .network && s.object == "socket(family \(AF_PACKET), type 3, protocol 0)/socket" && s.network == nil)
        #expect(s.rule == "socket", "the kernel's reason says more than 'default'")
    }

    @Test func anAllowedConnectIsPublishedButNotAudited() throws {
        let record = Self.netRecord(family: AF_INET, address: [127, 0, 0, 3], port: 80, protocolNumber: 6, rule: 0,
                                    verdict: EG_VERDICT_ALLOW, ret: 0)
        let decision = try #require(withUnsafeBytes(of: record) { DecisionEvent(record: $0) })
        let (line, json, audit) = try Self.render(decision)
        #expect(line == "ebguard: allowed connect 127.0.0.3:80 (tcp) by rule network[0]")
        #expect(json["verdict"] as? String == "allow" && json["blocked"] as? Bool == false)
        #expect(audit == nil)
        #expect(!RunLine.shows(verdict: decision.verdict, blocked: decision.blocked, reason: decision.reason))
    }
}
