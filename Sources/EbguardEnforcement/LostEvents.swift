internal import CEbguardABI
import EbguardBPF

extension Enforcer {
    /// Events the kernel dropped because their ring buffer was full, per possible CPU
    /// (index = CPU number), counted by every object in `eg_lost` since it was first pinned.
    /// Sum them for the total; a reader that falls behind learns here what it never saw.
    public func lostEvents() throws -> [UInt64] {
        try KernelMaps.lost.openPerCPU(in: pinRoot).lookup(0) ?? []
    }
}
