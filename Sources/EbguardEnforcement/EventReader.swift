internal import CEbguardABI
import EbguardBPF
import EbguardSystem
import Glibc

/// A ring of kernel events being read by a loop that polls it (the daemon's, a standalone
/// run's): each record goes to the handler it was opened with. The daemon and the CLI reach the
/// kernel through this module; the ring's libbpf owner stays in EbguardBPF.
public final class EventReader {
    private let ring: RingBuffer

    init(_ ring: RingBuffer) { self.ring = ring }

    /// The descriptor to poll for records.
    public var pollFD: Int32 { ring.epollFD }

    /// Hands every waiting record to the handler; how many there were.
    @discardableResult
    public func consume() throws -> Int { try ring.consume() }
}

/// The last ring record a loop took in full, but for its time stamp. A program retrying a
/// refused operation in a loop makes the same record again and again: the loop recognises it
/// by its bytes and renders only what changed (its number and time), with no decoding.
/// Records are compared whole, so any difference, even in bytes no field reads, is a miss.
public struct RepeatedRecord {
    private var bytes: [UInt8] = []
    private static let timeRange: Range<Int> = {
        let start = MemoryLayout<eg_event_header>.offset(of: \.time_ns)!
        return start..<start + MemoryLayout<UInt64>.size
    }()

    public init() {}

    /// True when `record` equals the remembered one in every byte but its time.
    public func matches(_ record: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, record.count == bytes.count else { return false }
        return bytes.withUnsafeBytes { last in
            let time = Self.timeRange
            return memcmp(last.baseAddress!, record.baseAddress!, time.lowerBound) == 0
                && memcmp(last.baseAddress! + time.upperBound, record.baseAddress! + time.upperBound,
                          record.count - time.upperBound) == 0
        }
    }

    public mutating func remember(_ record: UnsafeRawBufferPointer) {
        guard record.count >= Self.timeRange.upperBound else { return forget() }
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: record)
    }

    public mutating func forget() { bytes.removeAll(keepingCapacity: true) }

    /// The record's time stamp (boot-time nanoseconds); nil when it is too short to hold one.
    public static func time(of record: UnsafeRawBufferPointer) -> UInt64? {
        EventRecord.header(of: record)?.time_ns
    }
}

extension Session {
    /// This session's own ring (a standalone session's), read with `handler`; nil when the
    /// daemon reads its events from the shared ring.
    public func eventReader(handler: @escaping (UnsafeRawBufferPointer) -> Void) throws -> EventReader? {
        guard let events else { return nil }
        return EventReader(try RingBuffer(events, name: "events of \(name)", handler: handler))
    }
}

extension Enforcer {
    /// Opens one of the registry's rings with `handler` for its records.
    public func eventReader(_ ring: KernelRing, handler: @escaping (UnsafeRawBufferPointer) -> Void) throws -> EventReader {
        EventReader(try RingBuffer(pinnedAt: ring.path(in: pinRoot), handler: handler))
    }

    /// Turns on the kernel's per-program run-time statistics for as long as the returned
    /// descriptor stays open.
    public static func enableProgramStatistics() throws -> OwnedFileDescriptor { try BPFStatistics.enable() }

    /// Run count and time of the program behind each of this enforcer's pinned links, by link name.
    public func programStatistics(links: [String]) -> [(link: String, statistics: ProgramStatistics)] {
        links.compactMap { link in
            guard let stats = try? BPFProgramStatistics.ofLink(pinnedAt: pinRoot + "/" + link) else { return nil }
            return (link, ProgramStatistics(programID: stats.programID, runCount: stats.runCount,
                                            runTimeNanoseconds: stats.runTimeNanoseconds, nanosecondsPerCall: stats.nanosecondsPerCall))
        }
    }
}

/// One program's cost as the kernel counted it.
public struct ProgramStatistics: Sendable, Equatable {
    public let programID: UInt32
    public let runCount: UInt64
    public let runTimeNanoseconds: UInt64
    public let nanosecondsPerCall: Double?
}
