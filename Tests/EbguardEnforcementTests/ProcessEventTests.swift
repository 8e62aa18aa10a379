import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import Testing

/// Decoding of the process lifecycle events from records laid out as the kernel writes them.
@Suite struct ProcessEventTests {
    func header(_ type: eg_event_type, size: Int) -> eg_event_header {
        eg_event_header(type: UInt16(type.rawValue), version: UInt16(EG_ABI_VERSION), size: UInt32(size), time_ns: 99)
    }

    func exec(argv bytes: [UInt8], flags: UInt32 = 0) -> eg_process_exec_event {
        var event = eg_process_exec_event()
        event.hdr = header(EG_EVENT_PROCESS_EXEC, size: MemoryLayout<eg_process_exec_event>.size)
        event.task.pid = 41
        event.task.uid = 1000
        withUnsafeMutableBytes(of: &event.task.comm) { $0.copyBytes(from: Array("echo".utf8)) }
        event.session_id = 7
        event.ppid = 40
        event.argc = 3
        let name = Array("/bin/echo".utf8) + [0]
        withUnsafeMutableBytes(of: &event.filename) { $0.copyBytes(from: name) }
        event.filename_len = UInt32(name.count)
        withUnsafeMutableBytes(of: &event.argv) { $0.copyBytes(from: bytes) }
        event.argv_len = UInt32(bytes.count)
        event.flags = flags
        return event
    }

    @Test func execCarriesFilenameAndArgv() throws {
        let record = exec(argv: Array("/bin/echo\0hello\0\0world\0".utf8))
        let event = try #require(withUnsafeBytes(of: record) { ProcessEvent(record: $0) })
        #expect(event.kind == .exec)
        #expect(event.sessionID == 7)
        #expect(event.pid == 41 && event.ppid == 40 && event.uid == 1000)
        #expect(event.comm == "echo")
        #expect(event.filename == "/bin/echo")
        #expect(event.argv == ["/bin/echo", "hello", "", "world"])  // an empty argument stays one
        #expect(!event.argvTruncated)
        #expect(event.time == 99)
        #expect(withUnsafeBytes(of: record) { DecisionEvent(record: $0) } == nil)
    }

    @Test func truncatedArgvKeepsItsCutLastString() throws {
        let record = exec(argv: Array("/bin/echo\0hel".utf8), flags: UInt32(EG_PROCESS_ARGV_TRUNCATED))
        let event = try #require(withUnsafeBytes(of: record) { ProcessEvent(record: $0) })
        #expect(event.argv == ["/bin/echo", "hel"])
        #expect(event.argvTruncated)
        #expect(event.argc == 3)
    }

    @Test func forkAndExit() throws {
        var fork = eg_process_fork_event()
        fork.hdr = header(EG_EVENT_PROCESS_FORK, size: MemoryLayout<eg_process_fork_event>.size)
        fork.task.pid = 10
        fork.parent_pid = 10
        fork.child_pid = 11
        let forked = try #require(withUnsafeBytes(of: fork) { ProcessEvent(record: $0) })
        #expect(forked.kind == .fork && forked.pid == 11 && forked.ppid == 10)

        var exit = eg_process_exit_event()
        exit.hdr = header(EG_EVENT_PROCESS_EXIT, size: MemoryLayout<eg_process_exit_event>.size)
        exit.task.pid = 11
        exit.exit_code = 3 << 8
        let exited = try #require(withUnsafeBytes(of: exit) { ProcessEvent(record: $0) })
        #expect(exited.kind == .exit && exited.pid == 11)
        #expect(exited.exitCode == 3 && exited.signal == nil)
        exit.exit_code = 9
        let killed = try #require(withUnsafeBytes(of: exit) { ProcessEvent(record: $0) })
        #expect(killed.exitCode == nil && killed.signal == 9)
    }

    @Test func otherTypesAndWrongSizesAreNotProcessEvents() {
        var fork = eg_process_fork_event()
        fork.hdr = header(EG_EVENT_PROCESS_FORK, size: 64)  // a writer with another layout
        #expect(withUnsafeBytes(of: fork) { ProcessEvent(record: $0) } == nil)
        var tamper = eg_tamper_event()
        tamper.hdr = header(EG_EVENT_TAMPER, size: MemoryLayout<eg_tamper_event>.size)
        #expect(withUnsafeBytes(of: tamper) { ProcessEvent(record: $0) } == nil)
    }
}
