import CEbguardABI
import EbguardBPF
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// bpf/exec.bpf.c in a kernel that runs BPF-LSM: real execs inside a session cgroup.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct ExecEnforcementTests {
    static let loader = "/lib64/ld-linux-x86-64.so.2"

    @Test func exactRuleDeniesOneProgramAndOthersRun() throws {
        let f = try Fixture("exec-exact") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/bin/denied", EG_VERDICT_DENY, rule: 3)]
        }
        let denied = try f.dir.program("bin/denied", from: "/usr/bin/true")
        let allowed = try f.dir.program("bin/allowed", from: "/usr/bin/true")

        let result = try f.run(denied)
        #expect(result.status != 0)
        #expect(result.stderr.contains("Operation not permitted"), "\(result.stderr)")
        #expect(try f.run(allowed).status == 0)

        let events = try f.enforcement.takeEvents().filter { $0.path == denied }
        try #require(events.count == 1, "\(events)")
        #expect(events[0].type == UInt16(EG_EVENT_EXEC.rawValue))
        #expect(events[0].ret == -EPERM)
        #expect(events[0].rule == 3)
        #expect(events[0].verdict == UInt8(EG_VERDICT_DENY.rawValue))
        #expect(events[0].reason == UInt8(EG_REASON_RULE.rawValue))
        #expect(events[0].access == mask(EG_ACCESS_EXEC))
    }

    @Test func subtreeRuleDeniesEverythingBelowIt() throws {
        let f = try Fixture("exec-subtree") { dir in
            [.exec(EG_PATH_SUBTREE, dir.path + "/sbin", EG_VERDICT_DENY, rule: 1)]
        }
        let deep = try f.dir.program("sbin/deeper/tool", from: "/usr/bin/true")
        let direct = try f.dir.program("sbin/tool", from: "/usr/bin/true")
        let sibling = try f.dir.program("sbin-other/tool", from: "/usr/bin/true")

        #expect(try f.run(deep).status != 0)
        #expect(try f.run(direct).status != 0)
        #expect(try f.run(sibling).status == 0, "a name sharing the prefix is not below the directory")
    }

    @Test func aSymlinkToADeniedProgramIsDenied() throws {
        let f = try Fixture("exec-symlink") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/bin/denied", EG_VERDICT_DENY, rule: 0)]
        }
        let denied = try f.dir.program("bin/denied", from: "/usr/bin/true")
        let link = try f.dir.symlink("innocent", to: denied)

        #expect(try f.run(link).status != 0)
        let events = try f.enforcement.takeEvents()
        #expect(events.contains { $0.path == denied && $0.ret == -EPERM }, "the event names the resolved path: \(events)")
    }

    @Test func theDynamicLoaderCannotStartADeniedProgram() throws {
        let f = try Fixture("exec-ldso") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/bin/denied", EG_VERDICT_DENY, rule: 5)]
        }
        let denied = try f.dir.program("bin/denied", from: "/usr/bin/echo")
        let allowed = try f.dir.program("bin/allowed", from: "/usr/bin/echo")

        let dodge = try f.run(Self.loader, denied, "ran")
        #expect(dodge.status != 0)
        #expect(!dodge.stdout.contains("ran"))
        let fine = try f.run(Self.loader, allowed, "ran")
        #expect(fine.status == 0 && fine.stdout == "ran\n", "\(fine)")

        let events = try f.enforcement.takeEvents()
        #expect(events.contains { $0.path == denied && $0.rule == 5 && $0.ret == -EPERM }, "\(events)")
    }

    /// A program that maps code itself (a JIT, a home-made loader) meets the same rules as ld.so:
    /// mapping a denied file executable fails, and so does making a readable mapping executable.
    @Test func mappingADeniedFileExecutableFailsEvenThroughMprotect() throws {
        let python = "/usr/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: python), "needs python3 (ctypes) to call mmap/mprotect")
        let f = try Fixture("exec-mprotect") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/lib/denied.so", EG_VERDICT_DENY, rule: 4)]
        }
        let denied = try f.dir.program("lib/denied.so", from: "/usr/bin/true")
        let allowed = try f.dir.program("lib/allowed.so", from: "/usr/bin/true")
        let script = try f.dir.file("map.py", """
            import ctypes, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
            libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            failed = ctypes.c_void_p(-1).value
            fd = os.open(sys.argv[1], os.O_RDONLY)
            readable = libc.mmap(None, 4096, 1, 2, fd, 0)
            print("read", readable != failed)
            print("mprotect", libc.mprotect(readable, 4096, 5), ctypes.get_errno())
            ctypes.set_errno(0)
            print("exec", libc.mmap(None, 4096, 5, 2, fd, 0) != failed, ctypes.get_errno())
            """)

        let result = try f.run(python, script, denied)
        #expect(result.stdout == "read True\nmprotect -1 1\nexec False 1\n", "\(result)")
        let fine = try f.run(python, script, allowed)
        #expect(fine.stdout == "read True\nmprotect 0 0\nexec True 0\n", "\(fine)")
        let events = try f.enforcement.takeEvents().filter { $0.path == denied }
        #expect(events.count == 2 && events.allSatisfy { $0.rule == 4 && $0.ret == -EPERM }, "\(events)")
    }

    @Test func aScriptWithADeniedInterpreterDoesNotRun() throws {
        let f = try Fixture("exec-script") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/bin/mysh", EG_VERDICT_DENY, rule: 2)]
        }
        let shell = try f.dir.program("bin/mysh", from: "/usr/bin/dash")
        let script = try f.dir.file("script.sh", "#!\(shell)\necho ran\n", mode: 0o755)
        let plain = try f.dir.file("plain.sh", "#!/bin/sh\necho ran\n", mode: 0o755)

        let denied = try f.run(script)
        #expect(denied.status != 0 && !denied.stdout.contains("ran"))
        let allowed = try f.run(plain)
        #expect(allowed.status == 0 && allowed.stdout == "ran\n")
        #expect(try f.enforcement.takeEvents().contains { $0.path == shell && $0.rule == 2 })
    }

    /// Default deny governs what may be started, not which libraries it maps (see exec.bpf.c).
    @Test func execDefaultDenyAllowsListedProgramsAndTheirLibraries() throws {
        let f = try Fixture("exec-default", exec: EG_VERDICT_DENY) { dir in
            [.exec(EG_PATH_SUBTREE, "/usr/bin", EG_VERDICT_ALLOW, rule: 0)]
        }
        let unlisted = try f.dir.program("bin/unlisted", from: "/usr/bin/true")

        #expect(try f.run("/usr/bin/true").status == 0)
        #expect(try f.run(unlisted).status != 0)
        #expect(try f.run(Self.loader, "/usr/bin/true").status != 0, "ld.so itself is not listed")
        let events = try f.enforcement.takeEvents().filter { $0.path == unlisted }
        try #require(events.count == 1)
        #expect(events[0].reason == UInt8(EG_REASON_DEFAULT.rawValue) && events[0].rule == UInt16(EG_RULE_DEFAULT))
    }

    @Test func anArgvRuleHoldsTheExecUntilSIGCONT() throws {
        let f = try Fixture("exec-argv") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/bin/held", EG_VERDICT_ALLOW, rule: 7, flags: UInt32(EG_PATH_RULE_ARGV))]
        }
        let held = try f.dir.program("bin/held", from: "/usr/bin/echo")
        try Self.expectHeldThenReleased(f, held) { event in
            #expect(event.rule == 7 && event.verdict == UInt8(EG_VERDICT_ALLOW.rawValue))
        }
    }

    /// The compiler marks a program whose rules all have argv patterns with the flag alone;
    /// the path verdict then comes from less specific keys or the default.
    @Test func anArgvOnlyKeyHoldsAndReportsThePathVerdict() throws {
        let f = try Fixture("exec-argv-only", exec: EG_VERDICT_DENY) { dir in
            [.argvOnly(EG_PATH_EXACT, dir.path + "/bin/held"),
             .exec(EG_PATH_SUBTREE, "/usr/bin", EG_VERDICT_ALLOW, rule: 0)]
        }
        let held = try f.dir.program("bin/held", from: "/usr/bin/echo")
        try Self.expectHeldThenReleased(f, held) { event in
            #expect(event.rule == UInt16(EG_RULE_DEFAULT) && event.verdict == UInt8(EG_VERDICT_DENY.rawValue))
        }
        let viaLoader = try f.run(Self.loader, held, "ran")
        #expect(viaLoader.status != 0 && !viaLoader.stdout.contains("ran"))
    }

    /// Runs `held released` in the session: it must stop before its first instruction with its
    /// argv in /proc, report EG_REASON_HELD, and run to completion after SIGCONT.
    static func expectHeldThenReleased(_ f: Fixture, _ held: String, _ check: (PathEvent) -> Void) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "echo $$ > '\(f.session.cgroup.path)/cgroup.procs' && exec '\(held)' released"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let pid = process.processIdentifier
        defer { if process.isRunning { kill(pid, SIGKILL) } }

        var state = ""
        for _ in 0..<200 {
            state = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8))?
                .split(separator: "\n").first { $0.hasPrefix("State:") }.map(String.init) ?? ""
            if state.contains("T") { break }
            usleep(20_000)
        }
        #expect(state.contains("T"), "the held program is stopped: \(state)")
        let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        #expect(cmdline == "\(held)\0released\0", "its own argv is already visible: \(cmdline.debugDescription)")

        let events = try f.enforcement.takeEvents().filter { $0.path == held }
        try #require(events.count == 1, "\(events)")
        #expect(events[0].reason == UInt8(EG_REASON_HELD.rawValue))
        #expect(events[0].urgent, "a held exec is reported on eg_urgent, which the daemon never batches")
        #expect(events[0].ret == 0 && events[0].pid == UInt32(pid))
        check(events[0])

        kill(pid, SIGCONT)
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: output, as: UTF8.self) == "released\n")
    }

    @Test func anArgvRuleCannotBeDodgedThroughTheLoader() throws {
        let f = try Fixture("exec-argv-ldso") { dir in
            [.exec(EG_PATH_EXACT, dir.path + "/bin/held", EG_VERDICT_ALLOW, rule: 7, flags: UInt32(EG_PATH_RULE_ARGV))]
        }
        let held = try f.dir.program("bin/held", from: "/usr/bin/echo")
        let result = try f.run(Self.loader, held, "ran")
        #expect(result.status != 0 && !result.stdout.contains("ran"))
    }
}
