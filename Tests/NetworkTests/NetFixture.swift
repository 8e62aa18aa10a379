import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc

/// net.bpf.o loaded with its own pin root and attached, with multi-attach links, to a
/// scratch "ebguard parent" cgroup, as the daemon attaches it; sessions are its children.
/// Maps are filled by hand, the way the policy compiler will fill them.
final class NetFixture {
    let pinRoot: String
    let parent: ScratchCgroup
    let object: BPFObject
    let sessions: BPFMap<UInt64, eg_session>
    let rules4: BPFMap<eg_net4_key, eg_net_rules>
    let rules6: BPFMap<eg_net6_key, eg_net_rules>
    private var links: [BPFLink] = []
    private var ring: RingBuffer!
    private let received = EventBox()

    private static let counter = Counter()

    init(_ label: String, attach: Bool = true) throws {
        try Mounts.ensure("bpf", at: "/sys/fs/bpf")
        pinRoot = "/sys/fs/bpf/eg-test-\(getpid())-\(Self.counter.next())"
        mkdir(pinRoot, 0o700)
        parent = try ScratchCgroup(label)
        object = try BPFObject(embedded: "net", pinRoot: pinRoot)
        // Sessions sit one level below the parent ebguard attaches to.
        try object.setConstant("eg_session_level", to: UInt32(try parent.cgroup.level() + 1))
        try object.load()
        sessions = try object.map("eg_sessions")
        rules4 = try object.map("eg_net4_rules")
        rules6 = try object.map("eg_net6_rules")
        if attach {
            let directory = try parent.cgroup.open()
            for program in ["eg_connect4", "eg_connect6", "eg_sendmsg4", "eg_sendmsg6"] {
                links.append(try object.program(program).attach(cgroupFD: directory.rawValue))
            }
        }
        let box = received
        ring = try RingBuffer(try object.map("eg_events")) { record in
            if let event = EventRecord.decode(eg_net_event.self, from: record) { box.events.append(event) }
        }
    }

    deinit {
        links.removeAll()
        ring = nil
        for name in (try? FileManager.default.contentsOfDirectory(atPath: pinRoot)) ?? [] {
            unlink(pinRoot + "/" + name)
        }
        rmdir(pinRoot)
    }

    /// A new session cgroup under the parent, registered in eg_sessions.
    func session(_ name: String, policy: UInt32, default verdict: eg_verdict = EG_VERDICT_ALLOW,
                 auditAllows: Bool = false) throws -> Cgroup {
        let cgroup = try parent.cgroup.createChild(name)
        var session = eg_session()
        session.policy_id = policy
        session.default_verdict = (UInt8(EG_VERDICT_ALLOW.rawValue), UInt8(EG_VERDICT_ALLOW.rawValue), UInt8(verdict.rawValue))
        session.flags = auditAllows ? UInt8(EG_SESSION_AUDIT_ALLOWS) : 0
        try sessions.update(try cgroup.id(), session)
        return cgroup
    }

    /// A cgroup under the parent that is not a session (what the programs see for strangers).
    func bystander(_ name: String) throws -> Cgroup { try parent.cgroup.createChild(name) }

    /// Writes the entry for `cidr` ("10.0.0.0/8", "::1/128") of `policy`, exactly as given:
    /// the caller lists every candidate rule, most specific first, as the compiler does.
    func put(_ cidr: String, policy: UInt32, _ rules: [NetRule]) throws {
        let (address, length) = try parseCIDR(cidr)
        let value = eg_net_rules.make(rules)
        if address.count == 4 {
            var key = eg_net4_key()
            key.prefixlen = UInt32(32 + length)
            key.policy_id = policy
            withUnsafeMutableBytes(of: &key.addr) { $0.copyBytes(from: address) }
            try rules4.update(key, value)
        } else {
            var key = eg_net6_key()
            key.prefixlen = UInt32(32 + length)
            key.policy_id = policy
            withUnsafeMutableBytes(of: &key.addr) { $0.copyBytes(from: address) }
            try rules6.update(key, value)
        }
    }

    /// Events delivered so far (polls the ring buffer briefly first).
    func events() throws -> [eg_net_event] {
        try ring.poll(timeoutMilliseconds: 100)
        try ring.consume()
        return received.events
    }
}

/// One candidate rule of an LPM entry.
struct NetRule {
    var ports: ClosedRange<UInt16> = 0...UInt16.max
    var proto: UInt8 = 0
    var verdict: eg_verdict
    var rule: UInt16

    static func deny(_ rule: UInt16, ports: ClosedRange<UInt16> = 0...UInt16.max, proto: UInt8 = 0) -> NetRule {
        NetRule(ports: ports, proto: proto, verdict: EG_VERDICT_DENY, rule: rule)
    }
    static func allow(_ rule: UInt16, ports: ClosedRange<UInt16> = 0...UInt16.max, proto: UInt8 = 0) -> NetRule {
        NetRule(ports: ports, proto: proto, verdict: EG_VERDICT_ALLOW, rule: rule)
    }
    static func audit(_ rule: UInt16, ports: ClosedRange<UInt16> = 0...UInt16.max, proto: UInt8 = 0) -> NetRule {
        NetRule(ports: ports, proto: proto, verdict: EG_VERDICT_AUDIT, rule: rule)
    }
    static func ask(_ rule: UInt16, ports: ClosedRange<UInt16> = 0...UInt16.max, proto: UInt8 = 0) -> NetRule {
        NetRule(ports: ports, proto: proto, verdict: EG_VERDICT_ASK, rule: rule)
    }
}

let tcp: UInt8 = 6
let udp: UInt8 = 17

extension eg_net_rules {
    static func make(_ rules: [NetRule]) -> eg_net_rules {
        precondition(rules.count <= Int(EG_NET_RULES_MAX))
        var value = eg_net_rules()
        value.count = UInt32(rules.count)
        withUnsafeMutableBytes(of: &value.rules) { raw in
            let slots = raw.bindMemory(to: eg_net_rule.self)
            for (index, rule) in rules.enumerated() {
                slots[index] = eg_net_rule(port_lo: rule.ports.lowerBound, port_hi: rule.ports.upperBound,
                                           protocol: rule.proto, verdict: UInt8(rule.verdict.rawValue), rule: rule.rule)
            }
        }
        return value
    }
}

/// "10.0.0.0/8" -> (network bytes, 8). A bare address is a host route.
func parseCIDR(_ text: String) throws -> ([UInt8], Int) {
    let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
    let bytes = try addressBytes(parts[0])
    let length = parts.count == 2 ? Int(parts[1])! : bytes.count * 8
    return (bytes, length)
}

func addressBytes(_ text: String) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 16)
    let family = text.contains(":") ? AF_INET6 : AF_INET
    guard inet_pton(family, text, &buffer) == 1 else { throw SystemError("parsing address \(text)", reason: "not an address") }
    return Array(buffer.prefix(family == AF_INET ? 4 : 16))
}

/// The ring buffer callback runs synchronously inside poll(); the box only carries results out.
private final class EventBox: @unchecked Sendable {
    var events: [eg_net_event] = []
}

private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { value += 1; return value } }
}
