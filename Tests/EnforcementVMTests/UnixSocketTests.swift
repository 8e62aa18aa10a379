import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// unix.bpf.o (lsm/unix_stream_connect, lsm/unix_may_send) in a kernel with BPF-LSM:
/// rules written by hand into eg_unix_rules, real Unix sockets, errno and events asserted.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)))
struct UnixSocketTests {
    @Test func pathRulesDecideStreamSeqpacketAndDatagramPeers() throws {
        let unix = try UnixFixture()
        let session = try unix.session(policy: 1)
        let dir = unix.directory
        try unix.rule(policy: 1, "\(dir)/docker.sock", .deny, rule: 0)
        try unix.rule(policy: 1, "\(dir)/ask.sock", .ask, rule: 1)
        try unix.rule(policy: 1, "\(dir)/audited.sock", .audit, rule: 2)
        try unix.rule(policy: 1, "\(dir)/log.sock", .deny, rule: 3)
        try unix.rule(policy: 1, "\(dir)/packet.sock", .deny, rule: 4)
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

    @Test func defaultAppliesToUnlistedAndAbstractNamesButNotToSocketpairs() throws {
        let unix = try UnixFixture()
        let session = try unix.session(policy: 2, default: EG_VERDICT_DENY)
        let dir = unix.directory
        try unix.rule(policy: 2, "\(dir)/allowed.sock", .allow, rule: 0)
        let abstract = "@eg-test-\(getpid())"
        // 107 bytes is the longest name a key holds; a 108-byte name (sun_path full, no NUL) must
        // not be read as its 107-byte prefix, which here is allowed.
        let longest = dir + "/" + String(repeating: "x", count: 106 - dir.count)
        let tooLong = longest + "y"
        try unix.rule(policy: 2, longest, .allow, rule: 1)
        try expectUnixOutcomes(["stream:\(dir)/allowed.sock", "stream:\(dir)/unlisted.sock", "stream:\(abstract)",
                                "dgram:\(abstract)-d", "pair:", "raw:\(longest)", "raw:\(tooLong)"], in: session, [
            "stream:\(dir)/allowed.sock": "ok", "stream:\(dir)/unlisted.sock": "EPERM", "stream:\(abstract)": "EPERM",
            "dgram:\(abstract)-d": "EPERM", "pair:": "ok", "raw:\(longest)": "ok", "raw:\(tooLong)": "EPERM",
        ])
        let events = try unix.events()
        #expect(events.count == 4)
        #expect(events.allSatisfy { $0.reason == UInt8(EG_REASON_DEFAULT.rawValue) && $0.rule == UInt16(EG_RULE_DEFAULT) })
        #expect(Set(events.map { string(fromCArray: $0.unix_path) }) == ["\(dir)/unlisted.sock", abstract, abstract + "-d", longest])
    }

    @Test func sessionsAndStrangersStayApart() throws {
        let unix = try UnixFixture()
        let denying = try unix.session(policy: 3)
        let other = try unix.session(policy: 4)
        let dir = unix.directory
        try unix.rule(policy: 3, "\(dir)/a.sock", .deny, rule: 0)
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
private func expectUnixOutcomes(_ attempts: [String], in cgroup: Cgroup?, _ expected: [String: String],
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
    let outcomes = try UnixProbe.run(attempts, in: cgroup)
    #expect(outcomes == expected, sourceLocation: sourceLocation)
}

/// unix.bpf.o with its own pin root; programs attached (LSM: host-wide, scoped by session).
private final class UnixFixture {
    let pinRoot: String
    let parent: ScratchCgroup
    let directory: String
    let object: BPFObject
    let sessions: BPFMap<UInt64, eg_session>
    let rules: BPFMap<eg_unix_key, eg_net_rule>
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

    func session(policy: UInt32, default verdict: eg_verdict = EG_VERDICT_ALLOW) throws -> Cgroup {
        let cgroup = try parent.cgroup.createChild("s\(policy)")
        var session = eg_session()
        session.policy_id = policy
        session.default_verdict = (0, 0, UInt8(verdict.rawValue))
        try sessions.update(try cgroup.id(), session)
        return cgroup
    }

    enum Verdict { case allow, audit, ask, deny }

    func rule(policy: UInt32, _ path: String, _ verdict: Verdict, rule index: UInt16) throws {
        var key = eg_unix_key()
        key.policy_id = policy
        key.len = UInt32(path.utf8.count)
        withUnsafeMutableBytes(of: &key.path) { $0.copyBytes(from: path.utf8) }
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
private enum UnixProbe {
    static let script = #"""
import ctypes, errno, os, socket, sys
servers = {}
def addr(path):
    return '\0' + path[1:] if path.startswith('@') else path
def server(kind, path):
    if path not in servers:
        typ = {'stream': socket.SOCK_STREAM, 'seqpacket': socket.SOCK_SEQPACKET}.get(kind, socket.SOCK_DGRAM)
        s = socket.socket(socket.AF_UNIX, typ)
        if not path.startswith('@') and os.path.exists(path):
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
