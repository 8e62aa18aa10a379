import EbguardBPF
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Issue 16, classes 7 and 8: what root (or any user, at a terminal) could still use to leave
/// a session is refused in the kernel. Each line the script prints is `name=errno` (0: it worked).
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct RootContainmentTests {
    static let script = #"""
    import ctypes, fcntl, os, pty, struct, sys, termios
    libc = ctypes.CDLL(None, use_errno=True)
    def report(name, result):
        print('%s=%d' % (name, 0 if result >= 0 else ctypes.get_errno()), flush=True)
    root = sys.argv[1]
    report('chroot', libc.chroot(b'/tmp'))
    # clone3 with CLONE_INTO_CGROUP into the cgroup root, and with CLONE_NEWNET: the child exits at once.
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for name, flags, cgroup in (('clone_into_cgroup', 0x200000000, fd), ('clone_newnet', 0x40000000, 0)):
        args = struct.pack('QQQQQQQQQQQ', flags, 0, 0, 0, 17, 0, 0, 0, 0, 0, cgroup)
        buf = ctypes.create_string_buffer(args)
        pid = libc.syscall(435, buf, len(args))
        if pid == 0:
            libc._exit(0)
        report(name, pid)
        if pid > 0:
            os.waitpid(pid, 0)
    module = os.open('/etc/hostname', os.O_RDONLY)
    report('finit_module', libc.syscall(313, module, b'', 0))
    report('ioperm', libc.ioperm(0x80, 1, 1))
    report('add_key', libc.syscall(248, b'user', b'eg-test', b'v', 1, -2))  # KEY_SPEC_PROCESS_KEYRING
    # The terminal: TIOCSTI types into the controlling terminal's input, TIOCLINUX pastes on a console.
    pid, master = pty.fork()
    if pid == 0:
        r = libc.ioctl(0, termios.TIOCSTI, ctypes.c_char_p(b'x'))
        sti = 0 if r == 0 else ctypes.get_errno()
        r = libc.ioctl(0, 0x541C, ctypes.c_char_p(b'\x03'))  # TIOCLINUX, TIOCL_PASTESEL
        linux = 0 if r == 0 else ctypes.get_errno()
        os.write(1, b'\nRESULT tiocsti=%d tioclinux=%d\n' % (sti, linux))
        os._exit(0)
    output = b''
    while True:
        try:
            chunk = os.read(master, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.waitpid(pid, 0)
    for field in output.split(b'RESULT', 1)[-1].split():
        print(field.decode(), flush=True)
    # Last: it leaves this process in a mount namespace of its own (unshare has no LSM hook).
    if libc.unshare(0x20000) == 0:  # CLONE_NEWNS
        report('pivot_root', libc.syscall(155, b'/tmp', b'/tmp'))
    else:
        report('pivot_root', -1)
    """#

    @Test(arguments: [nil, "nobody"])
    func rootAndTerminalEscapesAreRefused(user: String?) throws {
        let session = ContainedSession(user: user)
        // Every capability kept: the kernel hooks refuse these whatever root still holds.
        let all = "capabilities: [\(Capability.names.joined(separator: ", "))]\n"
        let result = try session.run(Self.script, [try Cgroup.mountPoint()], rules: all)
        let lines = Dictionary(result.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }, uniquingKeysWith: { $1 })
        let eperm = String(EPERM)
        // Refused by ebguard in every session (as root, EPERM is ours: root would have succeeded).
        for name in ["chroot", "pivot_root", "clone_into_cgroup", "clone_newnet", "tiocsti", "add_key", "finit_module"] {
            #expect(lines[name] == eperm, "\(name): \(lines[name] ?? "missing")\n\(result.stdout)\n\(result.stderr)")
        }
        #expect(lines["tioclinux"] == eperm, "\(result.stdout)")
        if user == nil {
            #expect(lines["ioperm"] == eperm, "\(result.stdout)")
            #expect(result.stderr.contains("chroot/pivot_root"), "\(result.stderr)")
            #expect(result.stderr.contains("clone into another cgroup or new namespaces"), "\(result.stderr)")
            #expect(result.stderr.contains("loading kernel code"), "\(result.stderr)")
        }
        #expect(result.stderr.contains("typing into a terminal (TIOCSTI/TIOCLINUX)"), "\(result.stderr)")
    }
    /// Class 7's first line: a session keeps only the capabilities its policy names, in every
    /// set an exec draws from, so a root session is root without root's powers.
    @Test(arguments: [nil, "nobody"], ["", "capabilities: [net_bind_service]\n"])
    func aSessionKeepsOnlyTheCapabilitiesItsPolicyNames(user: String?, rules: String) throws {
        let script = #"""
        import ctypes, os, socket
        libc = ctypes.CDLL(None, use_errno=True)
        for line in open('/proc/self/status'):
            if line.startswith(('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')):
                print(line.replace(':\t', '=').strip(), flush=True)
        handle = ctypes.create_string_buffer(136)
        ctypes.c_uint.from_buffer(handle).value = 128
        mount_id = ctypes.c_int()
        target = '/tmp/eg-handle-%d' % os.getpid()  # tmpfs has file handles; 9p (the shared root) has none
        open(target, 'w').close()
        named = libc.name_to_handle_at(-100, target.encode(), handle, ctypes.byref(mount_id), 0)
        fd = libc.open_by_handle_at(-100, handle, 0) if named == 0 else -1
        print('open_by_handle=%d' % (0 if fd >= 0 else ctypes.get_errno()), flush=True)
        print('unshare_ns=%d' % (0 if libc.unshare(0x04000000) == 0 else ctypes.get_errno()), flush=True)
        """#
        let result = try ContainedSession(user: user).run(script, rules: rules)
        let keep = rules.isEmpty ? "0000000000000000" : "0000000000000400"
        #expect(result.stdout.contains("CapBnd=\(keep)"), "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("CapInh=0000000000000000"), "\(result.stdout)")
        #expect(result.stdout.contains("CapAmb=0000000000000000"), "\(result.stdout)")
        #expect(result.stdout.contains("CapEff=\(user == nil ? keep : "0000000000000000")"), "\(result.stdout)")
        #expect(result.stdout.contains("open_by_handle=\(EPERM)"), "\(result.stdout)")
        #expect(result.stdout.contains("unshare_ns=\(EPERM)"), "\(result.stdout)")
    }
}
