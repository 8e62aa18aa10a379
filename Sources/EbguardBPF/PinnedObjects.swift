import CLibBPF
import EbguardSystem

extension OwnedFileDescriptor {
    /// Opens a BPF map, program or link pinned in bpffs (`bpf_obj_get`).
    public static func pinnedBPFObject(at path: String) throws -> OwnedFileDescriptor {
        let fd = bpf_obj_get(path)
        guard fd >= 0 else { throw BPFError.libbpf("opening pinned BPF object \(path)", code: fd) }
        return OwnedFileDescriptor(adopting: fd)
    }
}

/// What the kernel knows about one attached program: its name and, while run-time
/// statistics are on (`BPFStatistics.enable()`), how often it ran and for how long.
public struct BPFProgramStatistics: Sendable, Equatable {
    public let programID: UInt32
    public let name: String
    public let runCount: UInt64
    public let runTimeNanoseconds: UInt64

    /// Mean cost of one call, nil before the first counted call.
    public var nanosecondsPerCall: Double? {
        runCount == 0 ? nil : Double(runTimeNanoseconds) / Double(runCount)
    }

    /// Statistics of the program behind the link pinned at `path`.
    public static func ofLink(pinnedAt path: String) throws -> BPFProgramStatistics {
        let link = try OwnedFileDescriptor.pinnedBPFObject(at: path)
        var linkInfo = bpf_link_info()
        var length = UInt32(MemoryLayout<bpf_link_info>.size)
        let linkResult = bpf_obj_get_info_by_fd(link.rawValue, &linkInfo, &length)
        guard linkResult == 0 else { throw BPFError.libbpf("reading link info of \(path)", code: linkResult) }
        let programFD = bpf_prog_get_fd_by_id(linkInfo.prog_id)
        guard programFD >= 0 else { throw BPFError.libbpf("opening program \(linkInfo.prog_id)", code: programFD) }
        let program = OwnedFileDescriptor(adopting: programFD)
        var info = bpf_prog_info()
        length = UInt32(MemoryLayout<bpf_prog_info>.size)
        let result = bpf_obj_get_info_by_fd(program.rawValue, &info, &length)
        guard result == 0 else { throw BPFError.libbpf("reading program info of \(path)", code: result) }
        return BPFProgramStatistics(programID: info.id, name: string(fromCArray: info.name), runCount: info.run_cnt,
                                    runTimeNanoseconds: info.run_time_ns)
    }
}

/// Run-time statistics of BPF programs cost a clock read per call, so the kernel keeps them
/// off until someone asks; they stay on while the returned descriptor is open.
public enum BPFStatistics {
    public static func enable() throws -> OwnedFileDescriptor {
        let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
        guard fd >= 0 else { throw BPFError.libbpf("enabling BPF run-time statistics", code: fd) }
        return OwnedFileDescriptor(adopting: fd)
    }
}
