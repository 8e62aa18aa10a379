import CEbguardABI
import EbguardBPF
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Issue 16, class 2: signals reach outside the session through no path, kill() or not. A
/// same-user victim outside the session (root's or nobody's) survives every SIGKILL the session
/// aims at it; the same paths still deliver inside the session.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct SignalContainmentTests {
    /// argv: the victim's pid. Prints one `name=errno-or-0` line per path.
    static let script = #"""
    import ctypes, fcntl, os, signal, socket, struct, sys, time
    victim = int(sys.argv[1])
    # The session's cgroup and its ancestors' ids: the session's id is one of them.
    cgroup = '/sys/fs/cgroup' + open('/proc/self/cgroup').read().strip().split('::', 1)[1]
    ids = []
    while cgroup.startswith('/sys/fs/cgroup/'):
        ids.append(str(os.stat(cgroup).st_ino))
        cgroup = os.path.dirname(cgroup)
    print('cgroups=' + ','.join(ids), flush=True)
    libc = ctypes.CDLL(None, use_errno=True)
    def owner_signal(name, setup, target_sig=signal.SIGKILL):
        a, b = socket.socketpair()
        try:
            setup(a)
            fcntl.fcntl(a, 10, target_sig)  # F_SETSIG
            fcntl.fcntl(a, fcntl.F_SETFL, fcntl.fcntl(a, fcntl.F_GETFL) | os.O_ASYNC)
            b.send(b'x')
            print('%s=sent' % name, flush=True)
        except OSError as e:
            print('%s=%d' % (name, e.errno), flush=True)
        time.sleep(0.3)
    owner_signal('setown', lambda s: fcntl.fcntl(s, fcntl.F_SETOWN, victim))
    owner_signal('setown_ex', lambda s: fcntl.fcntl(s, 15, struct.pack('ii', 1, victim)))  # F_OWNER_PID
    owner_signal('siocspgrp', lambda s: fcntl.ioctl(s, 0x8902, struct.pack('i', victim)))
    owner_signal('fiosetown', lambda s: fcntl.ioctl(s, 0x8901, struct.pack('i', victim)))
    fd = libc.syscall(434, victim, 0)  # pidfd_open
    sent = libc.syscall(424, fd, 9, None, 0) if fd >= 0 else -1  # pidfd_send_signal SIGKILL
    print('pidfd=%d' % (0 if sent == 0 else ctypes.get_errno()), flush=True)
    # Inside the session the same owner signal still arrives.
    child = os.fork()
    if child == 0:
        got = []
        signal.signal(signal.SIGUSR1, lambda *a: got.append(1))
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            time.sleep(0.01)
        os._exit(0 if got else 1)
    time.sleep(0.3)
    owner_signal('inside', lambda s: fcntl.fcntl(s, fcntl.F_SETOWN, child), signal.SIGUSR1)
    print('inside_got=%d' % (os.waitpid(child, 0)[1] >> 8 == 0), flush=True)
    """#

    @Test(arguments: [nil, "nobody"])
    func ownerSignalsAndPidfdsStayInside(user: String?) throws {
        let session = ContainedSession(user: user)
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        let uid = user == nil ? "0" : "65534"
        victim.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/bin/sleep", "60"]
        try victim.run()
        defer { victim.terminate() }
        usleep(300_000)
        let result = try session.run(Self.script, [String(victim.processIdentifier)])
        #expect(isAlive(victim.processIdentifier), "the victim outside the session was killed\n\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("setown=sent"), "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("pidfd=1"), "\(result.stdout)")
        #expect(result.stdout.contains("inside_got=1"), "\(result.stdout)")
        #expect(result.stderr.contains("owner signal (F_SETOWN/SIOCSPGRP) to pid \(victim.processIdentifier)"), "\(result.stderr)")
        // The session is over: the kernel's record of files whose owner it set is gone with it.
        // (Only its own entries: other suites' sessions run meanwhile and may own files.)
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("cgroups=") }
        let sessionIDs = Set((try #require(line)).dropFirst("cgroups=".count).split(separator: ",").compactMap { UInt64($0) })
        #expect(!sessionIDs.isEmpty)
        let generations = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf/ebguard")
        let owners = generations.compactMap { try? BPFMap<UInt64, UInt64>(pinnedAt: "/sys/fs/bpf/ebguard/\($0)/eg_fowners") }
        #expect(!owners.isEmpty)
        // A daemon session (a daemon test may be listening meanwhile) is torn down just after the
        // client hears the exit status, so give it a moment.
        func remaining() throws -> Int {
            try owners.reduce(0) { $0 + (try $1.entries().filter { sessionIDs.contains($0.value) }.count) }
        }
        let deadline = Date().addingTimeInterval(10)
        while try remaining() > 0 && Date() < deadline { usleep(50_000) }
        #expect(try remaining() == 0)
    }
}
