import EbguardSystem
import EbguardTestSupport
import Foundation

/// Real traffic for the tests: one python3 process, in a fresh network namespace (only
/// `lo`, no other traffic), that opens its own listeners and tries each destination,
/// reporting "ok" or the errno name ("EPERM") per attempt.
///
/// An attempt is "kind/host/port": `tcp` connects; `udp` sends one datagram with sendto
/// and no connect (the sendmsg hooks); `udpc` connects a UDP socket, then sends; `tfo`
/// opens TCP with data through sendto(MSG_FASTOPEN), with no connect() call; `mptcp`
/// connects a Multipath TCP socket (to a plain TCP listener, which it falls back to). The
/// client's family follows the host literal (an AF_INET6 socket for "::ffff:127.0.0.1").
/// Listeners bind the wildcard of the family that receives the traffic.
enum Probe {
    /// Addresses put on `lo` in the namespace, besides 127.0.0.0/8 and ::1.
    static let extraAddresses = ["10.1.2.3/32", "10.2.0.1/32", "192.168.7.1/32", "fd00::7/128"]

    static let script = #"""
import errno, socket, sys
listeners = {}
def client_family(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET
def listener(kind, host, port):
    fam = socket.AF_INET6 if ':' in host and not host.startswith('::ffff:') else socket.AF_INET
    typ = socket.SOCK_STREAM if kind in ('tcp', 'tfo', 'mptcp') else socket.SOCK_DGRAM
    key = (fam, typ, port)
    if key not in listeners:
        s = socket.socket(fam, typ)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(('', port))
        if typ == socket.SOCK_STREAM:
            s.listen(64)
        s.settimeout(2)
        listeners[key] = s
    return listeners[key]
for spec in sys.argv[1:]:
    kind, host, port = spec.split('/')
    port = int(port)
    try:
        l = listener(kind, host, port)
        if kind == 'mptcp':
            c = socket.socket(client_family(host), socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
        else:
            c = socket.socket(client_family(host), socket.SOCK_STREAM if kind in ('tcp', 'tfo') else socket.SOCK_DGRAM)
        c.settimeout(2)
        if kind in ('tcp', 'mptcp'):
            c.connect((host, port))
            l.accept()[0].close()
        elif kind == 'udp':
            c.sendto(b'x', (host, port))
            l.recvfrom(16)
        elif kind == 'tfo':
            c.settimeout(None)  # with a timeout the socket is non-blocking: EINPROGRESS
            c.sendto(b'x', socket.MSG_FASTOPEN, (host, port))
            l.accept()[0].close()
        elif kind == 'udpc':
            c.connect((host, port))
            c.send(b'x')
            l.recvfrom(16)
        c.close()
        result = 'ok'
    except socket.timeout:
        result = 'timeout'
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e))
    print(spec, result, flush=True)
"""#

    /// Runs the attempts in a new network namespace, inside `cgroup` when given;
    /// returns attempt -> outcome.
    static func run(_ attempts: [String], in cgroup: Cgroup? = nil) throws -> [String: String] {
        let setup = (["ip link set lo up"] + extraAddresses.map { "ip addr add \($0) dev lo" + ($0.contains(":") ? " nodad" : "") })
            .joined(separator: " && ")
        let command = ["/usr/bin/unshare", "-n", "/bin/sh", "-c",
                       "\(setup) && exec /usr/bin/python3 -c \"$0\" \"$@\"", script] + attempts
        let result = try runProcess(command, in: cgroup)
        var outcomes: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2 { outcomes[String(fields[0])] = String(fields[1]) }
        }
        guard outcomes.count == Set(attempts).count else {
            throw SystemError("running the network probe", reason: "status \(result.status), stdout \(result.stdout), stderr \(result.stderr)")
        }
        return outcomes
    }
}
