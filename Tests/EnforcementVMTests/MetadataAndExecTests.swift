import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Metadata changes (the `chmod` kind: mode, owner, timestamps, extended attributes, POSIX
/// ACLs), the file domain's `exec` kind and Unix socket subtree rules, in real `ebguard run`
/// sessions in the VM, as nobody and as root.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct MetadataAndExecTests {
    /// Every way to change a file's metadata, on `p`; names prefixed with `tag`.
    static func metadataProbes(_ tag: String, _ p: String, root: Bool) -> String {
        """
        import struct
        p = "\(p)"
        acl = struct.pack("<I" + "HHI" * 5, 2, 1, 6, 0xffffffff, 2, 4, 0, 4, 4, 0xffffffff, 0x10, 4, 0xffffffff, 0x20, 4, 0xffffffff)
        attempt("\(tag)utime", lambda: os.utime(p, None))
        attempt("\(tag)utimeset", lambda: os.utime(p, (1, 1)))
        fd = os.open(p, os.O_RDONLY)
        attempt("\(tag)futimens", lambda: os.utime(fd, (2, 2)))
        attempt("\(tag)chown", lambda: os.chown(p, os.getuid(), -1))
        attempt("\(tag)fchown", lambda: os.fchown(fd, -1, os.getgid()))
        attempt("\(tag)chmod", lambda: os.chmod(p, 0o640))
        attempt("\(tag)acl", lambda: os.setxattr(p, "system.posix_acl_access", acl))
        attempt("\(tag)facl", lambda: os.setxattr(fd, "system.posix_acl_access", acl))
        attempt("\(tag)rmacl", lambda: os.removexattr(p, "system.posix_acl_access"))
        \(root ? "attempt(\"\(tag)trusted\", lambda: os.setxattr(p, \"trusted.eg\", b\"1\"))" : "")

        """
    }

    @Test(arguments: ContainmentRun.Who.allCases)
    func metadataChangesAreTheChmodKind(who: ContainmentRun.Who) throws {
        let dir = try ContainmentRun.workspace("meta")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/protected", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/open", withIntermediateDirectories: true)
        try "x\n".write(toFile: dir + "/protected/f", atomically: false, encoding: .utf8)
        try "x\n".write(toFile: dir + "/open/f", atomically: false, encoding: .utf8)
        try "x\n".write(toFile: dir + "/open/readonly", atomically: false, encoding: .utf8)
        try ContainmentRun.giveToNobody(dir)
        // A second name for the protected directory through a bind mount. The hooks without a
        // mount (timestamps, xattrs) judge every mount of the file and still find the rule;
        // chmod and chown come with the path the caller used, as opens do (docs/policy.md).
        try FileManager.default.createDirectory(atPath: dir + "/alias", withIntermediateDirectories: true)
        #expect(try runProcess(["/bin/mount", "--bind", dir + "/protected", dir + "/alias"]).status == 0)
        defer { _ = try? runProcess(["/bin/umount", dir + "/alias"]) }

        let root = who == .root
        let out = try ContainmentRun.run("""
        version: 1
        name: metadata
        file:
          - { action: deny, path: "${workspace}/protected/**", access: [chmod] }
          - { action: deny, path: "${workspace}/open/readonly", access: [write] }
        """, as: who, workspace: dir,
        Self.metadataProbes("p_", dir + "/protected/f", root: root) + Self.metadataProbes("a_", dir + "/alias/f", root: root)
            + Self.metadataProbes("o_", dir + "/open/f", root: root) + Self.metadataProbes("w_", dir + "/open/readonly", root: root))
        // Times set to now are `write` (any writer may, and a write does it anyway); chosen
        // times, like every other metadata change, are `chmod`.
        #expect(out["p_utime"] == "OK" && out["a_utime"] == "OK", "\(out)")
        #expect(out["w_utime"] == "EACCES" && out["w_utimeset"] == "OK" && out["w_chmod"] == "OK", "\(out)")
        var names = ["utimeset", "futimens", "chown", "fchown", "chmod", "acl", "facl", "rmacl"]
        if root { names.append("trusted") }
        for name in names {
            #expect(out["p_" + name] == "EACCES", "protected \(name): \(out)")
            #expect(out["o_" + name] == "OK", "unprotected \(name): \(out)")
        }
        for name in names where !["chown", "fchown", "chmod"].contains(name) {
            #expect(out["a_" + name] == "EACCES", "bind-mounted alias \(name): \(out)")
        }
        // None of the chosen times (1 and 2 seconds after the epoch) reached the protected file.
        let after = try FileManager.default.attributesOfItem(atPath: dir + "/protected/f")[.modificationDate] as? Date
        #expect((after?.timeIntervalSince1970 ?? 0) > 1_000_000)
        #expect(out.result.stderr.contains("ebguard: denied chmod \(dir)/protected/f"), "\(out)")
    }

    @Test(arguments: ContainmentRun.Who.allCases)
    func fileExecKindCoversExecveLoaderAndExecutableMappings(who: ContainmentRun.Who) throws {
        let dir = try ContainmentRun.workspace("fexec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: dir + "/bin/true")
        try FileManager.default.copyItem(atPath: "/usr/bin/true", toPath: dir + "/true")
        try ContainmentRun.giveToNobody(dir)
        let out = try ContainmentRun.run("""
        version: 1
        name: fexec
        file:
          - { action: deny, path: "${workspace}/bin/**", access: [exec] }
        """, as: who, workspace: dir, """
        import ctypes, mmap, subprocess
        def run(argv):
            if subprocess.run(argv, stderr=subprocess.DEVNULL).returncode != 0:
                raise OSError(errno.EACCES, "failed")
        def mapexec(p):
            with open(p, "rb") as f:
                mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC).close()
        def mprotect(p):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
            with open(p, "rb") as f:
                addr = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, f.fileno(), 0)
                if libc.mprotect(ctypes.c_void_p(addr), 4096, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
                    raise OSError(ctypes.get_errno(), "mprotect")
        attempt("execve", lambda: subprocess.run(["\(dir)/bin/true"]))
        attempt("loader", lambda: run(["/lib64/ld-linux-x86-64.so.2", "\(dir)/bin/true"]))
        attempt("mmap", lambda: mapexec("\(dir)/bin/true"))
        attempt("mprotect", lambda: mprotect("\(dir)/bin/true"))
        attempt("read", lambda: open("\(dir)/bin/true", "rb").read())
        attempt("other", lambda: run(["\(dir)/true"]))
        attempt("otherloader", lambda: run(["/lib64/ld-linux-x86-64.so.2", "\(dir)/true"]))
        attempt("othermmap", lambda: mapexec("\(dir)/true"))
        """)
        for name in ["execve", "loader", "mmap", "mprotect"] { #expect(out[name] == "EACCES", "\(name): \(out)") }
        for name in ["read", "other", "otherloader", "othermmap"] { #expect(out[name] == "OK", "\(name): \(out)") }
    }

    @Test(arguments: ContainmentRun.Who.allCases)
    func unixSubtreeRulesAreEnforced(who: ContainmentRun.Who) throws {
        let dir = try ContainmentRun.workspace("unixtree")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for sub in ["sock/private", "other"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        try ContainmentRun.giveToNobody(dir)
        let out = try ContainmentRun.run("""
        version: 1
        name: unixtree
        defaults: { network: deny }
        network:
          - { action: allow, unix: "${workspace}/sock/**" }
          - { action: deny, unix: "${workspace}/sock/private/**" }
        """, as: who, workspace: dir, """
        def serve(path, kind):
            s = socket.socket(socket.AF_UNIX, kind)
            s.bind(path)
            if kind == socket.SOCK_STREAM:
                s.listen(1)
            return s
        servers = []
        def stream(path):
            servers.append(serve(path, socket.SOCK_STREAM))
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
        def dgram(path):
            servers.append(serve(path, socket.SOCK_DGRAM))
            c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            c.sendto(b"x", path)
        attempt("allowed", lambda: stream("\(dir)/sock/a"))
        attempt("nested", lambda: stream("\(dir)/sock/x/y"  if os.makedirs("\(dir)/sock/x", exist_ok=True) is None else ""))
        attempt("private", lambda: stream("\(dir)/sock/private/b"))
        attempt("privatedgram", lambda: dgram("\(dir)/sock/private/d"))
        attempt("outside", lambda: stream("\(dir)/other/c"))
        attempt("prefixsibling", lambda: stream("\(dir)/sockets"))
        attempt("allowedgram", lambda: dgram("\(dir)/sock/e"))
        """)
        for name in ["allowed", "nested", "allowedgram"] { #expect(out[name] == "OK", "\(name): \(out)") }
        for name in ["private", "privatedgram", "outside", "prefixsibling"] { #expect(out[name] == "EPERM", "\(name): \(out)") }
    }
}
