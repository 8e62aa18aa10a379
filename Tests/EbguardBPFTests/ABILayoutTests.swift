import CEbguardABI
import EbguardBPF
import Testing

/// The ABI header is the single definition; these pin the layout Swift sees to the one the BPF side was built with.
@Suite struct ABILayoutTests {
    @Test func eventHeaderLayout() {
        #expect(MemoryLayout<eg_event_header>.size == 16)
        #expect(MemoryLayout<eg_event_header>.offset(of: \.type) == 0)
        #expect(MemoryLayout<eg_event_header>.offset(of: \.version) == 2)
        #expect(MemoryLayout<eg_event_header>.offset(of: \.size) == 4)
        #expect(MemoryLayout<eg_event_header>.offset(of: \.time_ns) == 8)
    }

    @Test func taskLayout() {
        #expect(MemoryLayout<eg_task>.size == 40)
        #expect(MemoryLayout<eg_task>.offset(of: \.pid) == 8)
        #expect(MemoryLayout<eg_task>.offset(of: \.comm) == 24)
    }

    @Test func eventLayouts() {
        #expect(MemoryLayout<eg_probe_event>.size == 64)
        #expect(MemoryLayout<eg_probe_event>.offset(of: \.task) == 16)
        #expect(MemoryLayout<eg_probe_event>.offset(of: \.cookie) == 56)
        #expect(MemoryLayout<eg_selftest_event>.size == 320)
        #expect(MemoryLayout<eg_selftest_event>.offset(of: \.path) == 64)
        #expect(MemoryLayout<eg_inode_key>.size == 16)
    }

    @Test func processEventLayouts() {
        #expect(MemoryLayout<eg_process_exec_event>.size == 856)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.task) == 16)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.session_id) == 56)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.ppid) == 64)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.argc) == 68)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.filename_len) == 72)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.argv_len) == 76)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.flags) == 80)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.filename) == 88)
        #expect(MemoryLayout<eg_process_exec_event>.offset(of: \.argv) == 88 + Int(EG_PATH_MAX))
        #expect(MemoryLayout.size(ofValue: eg_process_exec_event().argv) == Int(EG_ARGV_MAX))

        #expect(MemoryLayout<eg_process_fork_event>.size == 72)
        #expect(MemoryLayout<eg_process_fork_event>.offset(of: \.session_id) == 56)
        #expect(MemoryLayout<eg_process_fork_event>.offset(of: \.parent_pid) == 64)
        #expect(MemoryLayout<eg_process_fork_event>.offset(of: \.child_pid) == 68)

        #expect(MemoryLayout<eg_process_exit_event>.size == 72)
        #expect(MemoryLayout<eg_process_exit_event>.offset(of: \.session_id) == 56)
        #expect(MemoryLayout<eg_process_exit_event>.offset(of: \.ppid) == 64)
        #expect(MemoryLayout<eg_process_exit_event>.offset(of: \.exit_code) == 68)
    }

    @Test func answerLayouts() {
        #expect(MemoryLayout<eg_answer>.size == 16)
        #expect(MemoryLayout<eg_answer>.offset(of: \.verdict) == 0)
        #expect(MemoryLayout<eg_answer>.offset(of: \.once) == 1)
        #expect(MemoryLayout<eg_answer>.offset(of: \.expires_ns) == 8)

        #expect(MemoryLayout<eg_file_answer_key>.size == 24)
        #expect(MemoryLayout<eg_file_answer_key>.offset(of: \.session_id) == 0)
        #expect(MemoryLayout<eg_file_answer_key>.offset(of: \.inode) == 8)
        #expect(MemoryLayout<eg_file_answer_key>.offset(of: \.device) == 16)
        #expect(MemoryLayout<eg_file_answer_key>.offset(of: \.access) == 20)

        #expect(MemoryLayout<eg_net_answer_key>.size == 32)
        #expect(MemoryLayout<eg_net_answer_key>.offset(of: \.session_id) == 0)
        #expect(MemoryLayout<eg_net_answer_key>.offset(of: \.family) == 8)
        #expect(MemoryLayout<eg_net_answer_key>.offset(of: \.protocol) == 9)
        #expect(MemoryLayout<eg_net_answer_key>.offset(of: \.port) == 10)
        #expect(MemoryLayout<eg_net_answer_key>.offset(of: \.addr) == 16)
    }

    @Test func pathKeysAreSmallAndTheirValuesCarryThePath() {
        #expect(MemoryLayout<eg_path_key>.size == 16)
        #expect(MemoryLayout<eg_path_key>.offset(of: \.len) == 6)
        #expect(MemoryLayout<eg_path_key>.offset(of: \.hash) == 8)
        #expect(MemoryLayout<eg_path_rule>.size == 32 + Int(EG_PATH_MAX))
        #expect(MemoryLayout<eg_path_rule>.offset(of: \.path) == 32)
        #expect(MemoryLayout<eg_path_lengths>.size == MemoryLayout<eg_path_rule>.size)
    }

    @Test func pathEventCarriesTheObjectsIdentity() {
        #expect(MemoryLayout<eg_path_event>.size == 352)
        #expect(MemoryLayout<eg_path_event>.offset(of: \.session_id) == 56)
        #expect(MemoryLayout<eg_path_event>.offset(of: \.reason) == 79)
        #expect(MemoryLayout<eg_path_event>.offset(of: \.path_len) == 80)
        #expect(MemoryLayout<eg_path_event>.offset(of: \.device) == 84)
        #expect(MemoryLayout<eg_path_event>.offset(of: \.path) == 88)
        #expect(MemoryLayout<eg_path_event>.offset(of: \.inode) == 88 + Int(EG_PATH_MAX))
    }

    /// A Unix name's length travels beside it (unix_len): all 108 bytes of sun_path fit with no terminator.
    @Test func netEventCarriesAUnixNameAndItsLength() {
        #expect(MemoryLayout<eg_net_event>.size == 216)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.session_id) == 56)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.family) == 76)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.port) == 78)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.addr) == 80)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.unix_path) == 96)
        #expect(MemoryLayout.size(ofValue: eg_net_event().unix_path) == Int(EG_UNIX_PATH_MAX))
        #expect(EG_UNIX_PATH_MAX == 108)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.host_id) == 204)
        #expect(MemoryLayout<eg_net_event>.offset(of: \.unix_len) == 208)
    }

    @Test func decodeChecksSizeAndLength() {
        var event = eg_probe_event()
        event.hdr.type = UInt16(EG_EVENT_PROBE.rawValue)
        event.hdr.size = UInt32(MemoryLayout<eg_probe_event>.size)
        event.cookie = 7
        withUnsafeBytes(of: event) { raw in
            #expect(EventRecord.decode(eg_probe_event.self, from: raw)?.cookie == 7)
            #expect(EventRecord.decode(eg_probe_event.self, from: UnsafeRawBufferPointer(rebasing: raw.prefix(40))) == nil)
            #expect(EventRecord.decode(eg_selftest_event.self, from: raw) == nil)  // header says 64 bytes
            #expect(EventRecord.header(of: UnsafeRawBufferPointer(rebasing: raw.prefix(8))) == nil)
        }
    }

    @Test func cArrayStringsStopAtNulAndRepairUTF8() {
        var task = eg_task()
        withUnsafeMutableBytes(of: &task.comm) { raw in
            raw.copyBytes(from: Array("bash".utf8) + [0, 65, 66])
        }
        #expect(string(fromCArray: task.comm) == "bash")
        withUnsafeMutableBytes(of: &task.comm) { raw in raw.copyBytes(from: [0xff, 0x41, 0]) }
        #expect(string(fromCArray: task.comm) == "\u{FFFD}A")
    }
}
