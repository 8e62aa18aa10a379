import EbguardBPF
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Issue 16, class 1: a held exec never runs before ebguard's answer, whatever resumes it. The
/// test marks a stopped process of the session held (as the exec hook does), then the session
/// tries each way a stopped task is resumed. Real programs, real kernel (the BPF-LSM VM).
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct HeldExecResumeTests {
    /// argv: marks directory, how. The victim stops itself (as a held exec is stopped) and
    /// writes `ran` if it ever runs again. `orphan`: its parent exits, leaving its process
    /// group orphaned with a stopped member, and the kernel itself sends SIGHUP + SIGCONT (no
    /// LSM hook sees that signal). `sigio`: F_SETOWN + F_SETSIG(SIGCONT) + O_ASYNC. `ptrace`:
    /// PTRACE_SEIZE then PTRACE_CONT from its parent inside the session.
    static let script = #"""
    import ctypes, fcntl, os, signal, socket, sys, time
    marks, how = sys.argv[1], sys.argv[2]
    def victim():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGSTOP)
        open(marks + '/ran', 'w').write('ran\n')
        os._exit(0)
    def stopped(pid):
        while open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[0] != 'T':
            time.sleep(0.01)
    def publish(pid):
        cgroup = open('/proc/self/cgroup').read().split('0::', 1)[1].strip()
        open(marks + '/pid.tmp', 'w').write('%d %s\n' % (pid, cgroup))
        os.rename(marks + '/pid.tmp', marks + '/pid')
        while not os.path.exists(marks + '/go'):
            time.sleep(0.02)
    if how == 'orphan':
        parent = os.fork()
        if parent == 0:
            os.setpgid(0, 0)
            v = os.fork()
            if v == 0:
                victim()
            stopped(v)
            publish(v)
            os._exit(0)
        os.waitpid(parent, 0)
        time.sleep(1.5)
    else:
        v = os.fork()
        if v == 0:
            victim()
        stopped(v)
        publish(v)
        if how == 'sigio':
            a, b = socket.socketpair()
            fcntl.fcntl(a, fcntl.F_SETOWN, v)
            fcntl.fcntl(a, 10, signal.SIGCONT)  # F_SETSIG
            fcntl.fcntl(a, fcntl.F_SETFL, fcntl.fcntl(a, fcntl.F_GETFL) | os.O_ASYNC)
            b.send(b'x')
        elif how == 'ptrace':
            libc = ctypes.CDLL(None, use_errno=True)
            seized = libc.ptrace(0x4206, v, 0, 0)  # PTRACE_SEIZE
            print('seize=%d' % (0 if seized == 0 else ctypes.get_errno()), flush=True)
            if seized == 0:
                os.waitpid(v, 0x40000000 | os.WNOHANG)
                libc.ptrace(0x4207, v, 0, 0)  # PTRACE_INTERRUPT
                os.waitpid(v, 0x40000000)
                libc.ptrace(7, v, 0, 0)  # PTRACE_CONT
        time.sleep(1.5)
        try:
            os.kill(v, signal.SIGKILL)
        except OSError:
            pass
    print('ran=%s' % ('yes' if os.path.exists(marks + '/ran') else 'no'), flush=True)
    """#

    @Test(arguments: [nil, "nobody"], ["orphan", "sigio", "ptrace"])
    func aHeldTaskNeverRunsUnanswered(user: String?, how: String) throws {
        let session = ContainedSession(user: user)
        let marks = try session.scratch("resume-\(how)")
        defer { try? FileManager.default.removeItem(atPath: marks) }
        let policy = try session.writePolicy("")
        defer { unlink(policy) }
        let process = Process()
        let command = try session.command(Self.script, [marks, how], policy: policy)
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let published = try #require(awaitLine(marks + "/pid"), "the session never stopped its victim")
        let fields = published.split(separator: " ")
        let victim = try #require(UInt32(fields[0]))
        let sessionID = try cgroupID(String(fields[1]))
        let maps = try heldMaps()
        #expect(!maps.isEmpty)
        for map in maps { try map.update(victim, sessionID) }
        FileManager.default.createFile(atPath: marks + "/go", contents: nil)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        for map in maps { _ = try? map.delete(victim) }
        #expect(stdout.contains("ran=no"), "\(how): the held task ran before any answer\n\(stdout)\n\(stderr)")
        switch how {
        case "orphan":
            // Nothing could refuse the kernel's SIGCONT: the task woke, and was killed before it ran.
            #expect(stderr.contains("resuming a held exec without ebguard's answer (killed): pid \(victim)"), "\(stderr)")
        case "ptrace":
            #expect(stdout.contains("seize=1"), "\(stdout)")
        default:
            #expect(stderr.contains("owner signal (F_SETOWN/SIOCSPGRP) to pid \(victim)"), "\(stderr)")
        }
    }
    /// A tracer sees a traced task's SIGSTOP before the task stops and may drop it: an exec that
    /// would be held is denied to a traced task instead.
    @Test(arguments: [nil, "nobody"])
    func aTracedTaskCannotStartAProgramThatWouldBeHeld(user: String?) throws {
        let script = #"""
        import ctypes, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        pid = os.fork()
        if pid == 0:
            libc.ptrace(0, 0, 0, 0)  # PTRACE_TRACEME
            try:
                os.execv('/usr/bin/env', ['env', 'true'])
            except OSError as e:
                os._exit(100 + e.errno)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status):
            print('exec=%d' % (os.WEXITSTATUS(status) - 100), flush=True)
        else:
            print('exec=ran', flush=True)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        """#
        let result = try ContainedSession(user: user).run(script, rules: "exec:\n  - { action: deny, name: env, argv: [--nope] }\n")
        #expect(result.stdout.contains("exec=\(EPERM)"), "\(result.stdout)\n\(result.stderr)")
    }
}
