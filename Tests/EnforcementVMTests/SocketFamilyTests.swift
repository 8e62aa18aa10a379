import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Sockets the cgroup connect/sendmsg programs never see (ping, raw, packet, SCTP, other
/// families), judged by bpf/unix.bpf.c's LSM programs (lib/sock_match.h) in a real
/// `ebguard run` session, as nobody (how `sudo ebguard run` starts a user's agent) and as root.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct SocketFamilyTests {
    init() throws {
        // Ping sockets for every group, as systemd sets it on most hosts (the guest's default is none).
        try "0 2147483647\n".write(toFile: "/proc/sys/net/ipv4/ping_group_range", atomically: false, encoding: .utf8)
    }

    /// Every kind of socket a session might reach past an address rule with.
    static let probes = """
    def ping(family, dest, proto, connect=False):
        s = socket.socket(family, socket.SOCK_DGRAM, proto)
        s.settimeout(2)
        packet = (b"\\x08" if family == socket.AF_INET else b"\\x80") + b"\\x00\\x00\\x00\\x12\\x34\\x00\\x01ebguard"
        if connect:
            s.connect((dest, 0))
            s.send(packet)
        else:
            s.sendto(packet, (dest, 0))
        s.recv(64)
    def make(family, kind, proto=0):
        socket.socket(family, kind, proto).close()
    attempt("ping4", lambda: ping(socket.AF_INET, "127.0.0.1", socket.IPPROTO_ICMP))
    attempt("ping4other", lambda: ping(socket.AF_INET, "127.0.0.2", socket.IPPROTO_ICMP))
    attempt("ping4connect", lambda: ping(socket.AF_INET, "127.0.0.2", socket.IPPROTO_ICMP, connect=True))
    attempt("ping6", lambda: ping(socket.AF_INET6, "::1", socket.IPPROTO_ICMPV6))
    attempt("raw4", lambda: make(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    attempt("raw6", lambda: make(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
    attempt("packet", lambda: make(socket.AF_PACKET, socket.SOCK_RAW))
    attempt("packetdgram", lambda: make(socket.AF_PACKET, socket.SOCK_DGRAM))
    attempt("sctp", lambda: make(socket.AF_INET, socket.SOCK_STREAM, 132))
    attempt("sctp6", lambda: make(socket.AF_INET6, socket.SOCK_SEQPACKET, 132))
    attempt("dccp", lambda: make(socket.AF_INET, 6, 33))
    attempt("vsock", lambda: make(40, socket.SOCK_STREAM))
    attempt("bluetooth", lambda: make(31, socket.SOCK_STREAM))
    attempt("xdp", lambda: make(44, socket.SOCK_RAW))
    attempt("tipc", lambda: make(30, socket.SOCK_RDM))
    attempt("alg", lambda: make(38, socket.SOCK_SEQPACKET))
    attempt("netlink", lambda: make(socket.AF_NETLINK, socket.SOCK_RAW, 0))
    attempt("tcp", lambda: make(socket.AF_INET, socket.SOCK_STREAM))
    attempt("udp6", lambda: make(socket.AF_INET6, socket.SOCK_DGRAM))
    attempt("unix", lambda: make(socket.AF_UNIX, socket.SOCK_STREAM))
    """

    /// Sockets with no destination a rule can judge.
    static let unjudged = ["raw4", "raw6", "packet", "packetdgram", "sctp", "sctp6", "dccp", "vsock", "bluetooth", "xdp",
                           "tipc", "alg"]

    @Test(arguments: ContainmentRun.Who.allCases)
    func networkDenyRefusesEverySocketItCannotJudge(who: ContainmentRun.Who) throws {
        let dir = try ContainmentRun.workspace("sock-deny")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try ContainmentRun.run("""
        version: 1
        name: sockets
        defaults: { network: deny }
        network:
          - { action: allow, cidr: 127.0.0.0/8, protocol: tcp }
        """, as: who, workspace: dir, Self.probes)
        // Ping sockets: refused by destination (a tcp rule does not cover ICMP), at send and connect.
        for name in ["ping4", "ping4other", "ping4connect", "ping6"] { #expect(out[name] == "EPERM", "\(name): \(out)") }
        // Raw, packet, SCTP, DCCP and other families: refused at socket(), before the kernel
        // even looks for the protocol (so EPERM, not EPROTONOSUPPORT, where a module is missing).
        for name in Self.unjudged { #expect(out[name] == "EPERM", "\(name): \(out)") }
        // What the cgroup programs judge by destination, and the local kernel, stay open.
        for name in ["netlink", "tcp", "udp6", "unix"] { #expect(out[name] == "OK", "\(name): \(out)") }
        #expect(out.result.stderr.contains("denied create socket(family 17"), "\(out)")
    }

    @Test(arguments: ContainmentRun.Who.allCases)
    func icmpRulesLetPingThroughWhereTheyAllow(who: ContainmentRun.Who) throws {
        let dir = try ContainmentRun.workspace("sock-icmp")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try ContainmentRun.run("""
        version: 1
        name: ping
        defaults: { network: deny }
        network:
          - { action: allow, cidr: 127.0.0.1, protocol: icmp }
          - { action: allow, cidr: "::1", protocol: icmp }
        """, as: who, workspace: dir, Self.probes)
        #expect(out["ping4"] == "OK", "\(out)")
        #expect(out["ping6"] == "OK", "\(out)")
        #expect(out["ping4other"] == "EPERM", "\(out)")
        #expect(out["ping4connect"] == "EPERM", "\(out)")
        for name in Self.unjudged { #expect(out[name] == "EPERM", "\(name): \(out)") }
    }

    /// Under an allow default, a socket no rule can judge is refused only where an address rule
    /// denies: a raw socket would otherwise walk around `deny 169.254.169.254`.
    @Test func allowDefaultWithADenyRuleRefusesRawSocketsAndWithoutOneDoesNot() throws {
        let dir = try ContainmentRun.workspace("sock-allow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fenced = try ContainmentRun.run("""
        version: 1
        name: fenced
        network:
          - { action: deny, cidr: 169.254.169.254 }
        """, as: .root, workspace: dir, Self.probes)
        for name in ["raw4", "raw6", "packet", "sctp", "alg"] { #expect(fenced[name] == "EPERM", "\(name): \(fenced)") }
        #expect(fenced["ping4"] == "OK" && fenced["netlink"] == "OK", "\(fenced)")
        #expect(fenced.result.stderr.contains("by rule network[0]"), "\(fenced)")

        let open = try ContainmentRun.run("version: 1\nname: open\n", as: .root, workspace: dir, Self.probes)
        for name in ["raw4", "raw6", "packet", "ping4"] { #expect(open[name] == "OK", "\(name): \(open)") }
    }
}
