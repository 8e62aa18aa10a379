import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// unix.bpf.o (lsm/unix_stream_connect, lsm/unix_may_send) in a kernel with BPF-LSM: policies
/// compiled by the product's compiler (`unix:` rules are path rules of domain EG_DOMAIN_UNIX),
/// real Unix sockets, errno and events asserted. Patterns: UnixPatternVMTests.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)))
struct UnixSocketTests {
    @Test func pathRulesDecideStreamSeqpacketAndDatagramPeers() throws {
        let unix = try UnixFixture()
        let dir = unix.directory
        let session = try unix.session(policy: 1, rules: [
            "deny, unix: \"\(dir)/docker.sock\"", "ask, unix: \"\(dir)/ask.sock\"", "audit, unix: \"\(dir)/audited.sock\"",
            "deny, unix: \"\(dir)/log.sock\"", "deny, unix: \"\(dir)/packet.sock\"",
        ]).cgroup
        try expectUnixOutcomes([
            "stream:\(dir)/docker.sock", "stream:\(dir)/ask.sock", "stream:\(dir)/audited.sock", "stream:\(dir)/other.sock",
            "dgram:\(dir)/log.sock", "dgramc:\(dir)/log.sock", "dgram:\(dir)/other-dgram.sock",
            "seqpacket:\(dir)/packet.sock",
        ], in: session, [
            "stream:\(dir)/docker.sock": "EPERM", "stream:\(dir)/ask.sock": "EPERM", "stream:\(dir)/audited.sock": "ok",
            "stream:\(dir)/other.sock": "ok", "dgram:\(dir)/log.sock": "EPERM", "dgramc:\(dir)/log.sock": "EPERM",
            "dgram:\(dir)/other-dgram.sock": "ok", "seqpacket:\(dir)/packet.sock": "EPERM",
        ])

        let events = try unix.events()
        #expect(events.count == 6)
        let sessionID = try session.id()
        for event in events {
            #expect(event.hdr.type == UInt16(EG_EVENT_UNIX.rawValue))
            #expect(Int(event.hdr.size) == MemoryLayout<eg_net_event>.size)
            #expect(event.session_id == sessionID && event.task.cgroup_id == sessionID)
            #expect(event.policy_id == 1)
            #expect(event.family == UInt8(AF_UNIX))
            #expect(event.reason == UInt8(EG_REASON_RULE.rawValue))
            #expect(string(fromCArray: event.task.comm) == "python3")
        }
        let docker = try #require(events.first { string(fromCArray: $0.unix_path) == "\(dir)/docker.sock" })
        #expect((docker.verdict, docker.rule, docker.ret) == (UInt8(EG_VERDICT_DENY.rawValue), 0, -EPERM))
        let ask = try #require(events.first { string(fromCArray: $0.unix_path) == "\(dir)/ask.sock" })
        #expect((ask.verdict, ask.rule, ask.ret) == (UInt8(EG_VERDICT_ASK.rawValue), 1, -EPERM))
        let audited = try #require(events.first { string(fromCArray: $0.unix_path) == "\(dir)/audited.sock" })
        #expect((audited.verdict, audited.rule, audited.ret) == (UInt8(EG_VERDICT_AUDIT.rawValue), 2, 0))
        #expect(events.filter { string(fromCArray: $0.unix_path) == "\(dir)/log.sock" }.count == 2)
    }

    /// A name filling sun_path (108 bytes, no NUL) is decided on all its bytes: the rule for it
    /// applies, and another 108-byte name sharing its first 107 bytes takes the default and is
    /// reported whole.
    @Test func defaultAppliesToUnlistedAndAbstractNamesButNotToSocketpairs() throws {
        let unix = try UnixFixture()
        let dir = unix.directory
        let abstract = "@eg-test-\(getpid())"
        let longest = dir + "/" + String(repeating: "x", count: 106 - dir.utf8.count)
        let full = longest + "y", fullOther = longest + "z"
        #expect(full.utf8.count == 108)
        let session = try unix.session(policy: 2, defaults: "network: deny", rules: [
            "allow, unix: \"\(dir)/allowed.sock\"", "allow, unix: \"\(full)\"",
        ]).cgroup
        // Abstract names keep their whole-name keys in eg_unix_rules (no policy form writes one).
        try unix.abstractRule(policy: 2, "\0eg-abs-\(getpid())", .allow, rule: 7)
        try expectUnixOutcomes(["stream:\(dir)/allowed.sock", "stream:\(dir)/unlisted.sock", "stream:\(abstract)",
                                "dgram:\(abstract)-d", "pair:", "raw:\(full)", "raw:\(fullOther)", "stream:@eg-abs-\(getpid())"],
                               in: session, [
            "stream:\(dir)/allowed.sock": "ok", "stream:\(dir)/unlisted.sock": "EPERM", "stream:\(abstract)": "EPERM",
            "dgram:\(abstract)-d": "EPERM", "pair:": "ok", "raw:\(full)": "ok", "raw:\(fullOther)": "EPERM",
            "stream:@eg-abs-\(getpid())": "ok",
        ])
        let events = try unix.events()
        #expect(events.count == 4)
        #expect(events.allSatisfy { $0.reason == UInt8(EG_REASON_DEFAULT.rawValue) && $0.rule == UInt16(EG_RULE_DEFAULT) })
        // A 108-byte name is reported whole: all of unix_path, no NUL, unix_len 108.
        #expect(Set(events.map { string(fromCArray: $0.unix_path) }) == ["\(dir)/unlisted.sock", abstract, abstract + "-d", fullOther])
        let long = try #require(events.first { $0.unix_len == 108 })
        #expect(withUnsafeBytes(of: long) { DecisionEvent(record: $0) }?.objectText == fullOther)
        #expect(Set(events.map(\.unix_len)) == [UInt32("\(dir)/unlisted.sock".utf8.count), UInt32(abstract.utf8.count),
                                                UInt32(abstract.utf8.count + 2), 108])
    }

    /// A policy with unix patterns whose EG_DOMAIN_UNIX marker is missing (half written) is
    /// denied, not matched.
    @Test func aPolicyWithoutItsUnixMarkerFailsClosed() throws {
        let unix = try UnixFixture()
        let dir = unix.directory
        let policy = try unix.session(policy: 5, rules: ["allow, unix: \"\(dir)/*.sock\""])
        try unix.paths.delete(policy.maps.loadedMarkers[2].key)
        try expectUnixOutcomes(["stream:\(dir)/a.sock"], in: policy.cgroup, ["stream:\(dir)/a.sock": "EPERM"])
        let event = try #require(try unix.events().first)
        #expect(event.reason == UInt8(EG_REASON_NO_POLICY.rawValue) && event.verdict == UInt8(EG_VERDICT_DENY.rawValue))
    }

    @Test func sessionsAndStrangersStayApart() throws {
        let unix = try UnixFixture()
        let dir = unix.directory
        let denying = try unix.session(policy: 3, rules: ["deny, unix: \"\(dir)/a.sock\""]).cgroup
        let other = try unix.session(policy: 4, rules: []).cgroup
        let attempt = ["stream:\(dir)/a.sock"]
        try expectUnixOutcomes(attempt, in: denying, ["stream:\(dir)/a.sock": "EPERM"])
        try expectUnixOutcomes(attempt, in: other, ["stream:\(dir)/a.sock": "ok"])
        try expectUnixOutcomes(attempt, in: try unix.parent.cgroup.createChild("stranger"), ["stream:\(dir)/a.sock": "ok"])
        try expectUnixOutcomes(attempt, in: nil, ["stream:\(dir)/a.sock": "ok"])
        let child = try denying.createChild("agent-made")
        try expectUnixOutcomes(attempt, in: child, ["stream:\(dir)/a.sock": "EPERM"])
        let events = try unix.events()
        #expect(events.map(\.policy_id) == [3, 3])
        #expect(events.last?.task.cgroup_id == (try child.id()))
    }
}

/// Runs the attempts (see `UnixProbe`) and expects exactly these outcomes, showing the real ones on failure.
func expectUnixOutcomes(_ attempts: [String], in cgroup: Cgroup?, _ expected: [String: String],
                                sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let outcomes = try UnixProbe.run(attempts, in: cgroup)
    #expect(outcomes == expected, sourceLocation: sourceLocation)
}

/// unix.bpf.o with its own pin root; programs attached (LSM: host-wide, scoped by session).
final class UnixFixture {
    let pinRoot: String
    let parent: ScratchCgroup
    let directory: String
    let object: BPFObject
    let sessions: BPFMap<UInt64, eg_session>
    let rules: BPFMap<eg_unix_key, eg_net_rule>
    let paths: BPFMap<eg_path_key, eg_path_rule>
    private var links: [BPFLink] = []
    private var ring: RingBuffer!
    private let inbox = Inbox()
    private final class Inbox { var events: [eg_net_event] = [] }

    init() throws {
        try Mounts.ensure("bpf", at: "/sys/fs/bpf")
        let unique = "\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        pinRoot = "/sys/fs/bpf/eg-unix-\(unique)"
        mkdir(pinRoot, 0o700)
        directory = "/tmp/eg-unix-\(unique)"
        mkdir(directory, 0o755)
        parent = try ScratchCgroup("unix")
        object = try BPFObject(embedded: "unix", pinRoot: pinRoot)
        try object.setConstant("eg_session_level", to: UInt32(try parent.cgroup.level() + 1))
        try object.load()
        sessions = try object.map("eg_sessions")
        rules = try object.map("eg_unix_rules")
        paths = try object.map("eg_path_rules")
        for program in ["eg_unix_connect", "eg_unix_send"] {
            links.append(try object.program(program).attach())
        }
        let inbox = self.inbox
        ring = try RingBuffer(try object.map("eg_events")) { record in
            if let event = EventRecord.decode(eg_net_event.self, from: record) { inbox.events.append(event) }
        }
    }

    deinit {
        links.removeAll()
        ring = nil
        for name in (try? FileManager.default.contentsOfDirectory(atPath: pinRoot)) ?? [] { unlink(pinRoot + "/" + name) }
        rmdir(pinRoot)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A session whose policy has these network rules (`"deny, unix: /x"`, in order: rule i is
    /// network[i]), compiled by PolicyMaps for `home` (default: the fixture's directory) and
    /// written as `ebguard run` writes it; `auditAllows` reports every decision.
    func session(policy: UInt32, defaults: String = "network: allow", rules: [String], home: String? = nil,
                 auditAllows: Bool = false) throws -> (cgroup: Cgroup, compiled: CompiledPolicy, maps: PolicyMaps) {
        let yaml = "version: 1\nname: unix\ndefaults: { \(defaults) }\nnetwork:"
            + (rules.isEmpty ? " []\n" : "\n" + rules.map { "  - { action: \($0) }\n" }.joined())
        let compiled = try Policy.parse(yaml: yaml, file: "unix.yaml")
            .compile(in: try PolicyContext(home: home ?? directory, workspace: directory))
        let maps = try PolicyMaps(compiled, policyID: policy, auditAllows: auditAllows, processEvents: false)
        for (key, rule) in maps.paths { try paths.update(key, rule) }
        for (key, lengths) in maps.loadedMarkers { try paths.update(key, lengths) }
        for (key, rule) in maps.unix { try self.rules.update(key, rule) }
        let cgroup = try parent.cgroup.createChild("s\(policy)")
        try sessions.update(try cgroup.id(), maps.session)
        return (cgroup, compiled, maps)
    }

    enum Verdict { case allow, audit, ask, deny }

    /// An abstract name's key, written by hand: `name` starts with its NUL.
    func abstractRule(policy: UInt32, _ name: String, _ verdict: Verdict, rule index: UInt16) throws {
        var key = eg_unix_key()
        key.policy_id = policy
        key.len = UInt32(name.utf8.count)
        withUnsafeMutableBytes(of: &key.path) { $0.copyBytes(from: name.utf8) }
        let value: eg_verdict = switch verdict {
        case .allow: EG_VERDICT_ALLOW
        case .audit: EG_VERDICT_AUDIT
        case .ask: EG_VERDICT_ASK
        case .deny: EG_VERDICT_DENY
        }
        try rules.update(key, eg_net_rule(port_lo: 0, port_hi: 0, protocol: 0, verdict: UInt8(value.rawValue), rule: index))
    }

    func events() throws -> [eg_net_event] {
        try ring.poll(timeoutMilliseconds: 100)
        try ring.consume()
        return inbox.events
    }
}

/// One python3 process that binds its own servers and tries each attempt, printing
/// "ok" or the errno name. Attempts: "stream:PATH", "seqpacket:PATH", "dgram:PATH" (sendto),
/// "dgramc:PATH" (connect, then send), "pair:" (a datagram socketpair), "raw:PATH" (stream,
/// bound and connected through libc with no NUL, for 108-byte names). "@name" is abstract.
/// Missing parent directories of a server's path are created.
enum UnixProbe {
    static let script = #"""
import ctypes, errno, os, socket, sys
servers = {}
def addr(path):
    return '\0' + path[1:] if path.startswith('@') else path
def server(kind, path):
    if path not in servers:
        typ = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}.get(kind, socket.SOCK_DGRAM)
        s = socket.socket(socket.AF_UNIX, typ)
        if not path.startswith('@'):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.exists(path):
                os.unlink(path)
        s.bind(addr(path))
        if typ != socket.SOCK_DGRAM:
            s.listen(16)
        s.settimeout(2)
        servers[path] = s
    return servers[path]
libc = ctypes.CDLL(None, use_errno=True)
def raw(call, sock, path):
    # sun_path filled to the last byte, no NUL: what Python's own bind() refuses.
    name = b'\x01\x00' + path.encode()
    if call(sock.fileno(), ctypes.create_string_buffer(name, len(name)), len(name)) != 0:
        raise OSError(ctypes.get_errno(), 'raw ' + path)
for spec in sys.argv[1:]:
    kind, path = spec.split(':', 1)
    try:
        if kind == 'raw':
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw(libc.bind, s, path)
            s.listen(1)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw(libc.connect, c, path)
        elif kind == 'pair':
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            a.send(b'x')
            b.recv(16)
        else:
            s = server(kind, path)
            if kind in ('stream', 'seqpacket'):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == 'stream' else socket.SOCK_SEQPACKET)
                c.settimeout(2)
                c.connect(addr(path))
                s.accept()[0].close()
            else:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                if kind == 'dgram':
                    c.sendto(b'x', addr(path))
                else:
                    c.connect(addr(path))
                    c.send(b'x')
                s.recv(16)
            c.close()
        result = 'ok'
    except socket.timeout:
        result = 'timeout'
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e))
    print(spec, result, flush=True)
"""#

    static func run(_ attempts: [String], in cgroup: Cgroup? = nil) throws -> [String: String] {
        let result = try runProcess(["/usr/bin/python3", "-c", script] + attempts, in: cgroup)
        var outcomes: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let space = line.lastIndex(of: " ") else { continue }
            outcomes[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        guard outcomes.count == Set(attempts).count else {
            throw SystemError("running the Unix socket probe", reason: "status \(result.status), stdout \(result.stdout), stderr \(result.stderr)")
        }
        return outcomes
    }
}
