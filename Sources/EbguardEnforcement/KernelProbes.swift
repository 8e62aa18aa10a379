internal import CEbguardABI
import EbguardBPF
import EbguardSystem
import Glibc
import SystemPackage

/// Why a probe failed: the step and what went wrong, and the errno when the kernel refused it.
public struct ProbeError: Error, CustomStringConvertible {
    public let errno: Errno?
    public let description: String

    init(_ error: any Error) {
        errno = (error as? BPFError)?.errno ?? (error as? SystemError)?.errno
        description = "\(error)"
    }
}

/// Feature probes: each loads and attaches the smallest real program of one kind, because
/// only the kernel's answer tells the truth. `ebguard doctor`, `ebguard run` and the tests share them.
/// They live with the enforcement they probe for, so the CLI reaches the kernel through this module.
public enum Probes {
    /// Loads and attaches an `lsm/file_open` program that decides nothing.
    public static func lsm() throws(ProbeError) {
        try probing {
            let object = try doctorObject(keeping: "eg_probe_lsm")
            try object.load()
            _ = try object.program("eg_probe_lsm").attach()
        }
    }

    /// Loads a syscall tracepoint program and proves a ring-buffer record makes the round trip.
    public static func tracepointAndRingBuffer(timeoutMilliseconds: Int32 = 2000) throws(ProbeError) {
        try probing { try roundTrip(timeoutMilliseconds: timeoutMilliseconds) }
    }

    /// Attaches a `cgroup/connect4` program to a scratch cgroup under `parent`, then removes both.
    public static func cgroupConnect(parent: Cgroup) throws(ProbeError) {
        try probing {
            let object = try doctorObject(keeping: "eg_probe_conn4")
            try object.load()
            let scratch = try parent.createChild("ebguard-probe-\(getpid())")
            defer { try? scratch.destroy() }
            let directory = try scratch.open()
            let link = try object.program("eg_probe_conn4").attach(cgroupFD: directory.rawValue)
            try link.detach()
        }
    }

    private static func probing(_ body: () throws -> Void) throws(ProbeError) {
        do { try body() } catch { throw ProbeError(error) }
    }

    private static func roundTrip(timeoutMilliseconds: Int32) throws {
        // libbpf finds tracepoint ids in tracefs, which minimal systems leave unmounted.
        try Mounts.ensureTracefs()
        let object = try doctorObject(keeping: "eg_probe_tp")
        let cookie = UInt64(0x4000_0000 | UInt32.random(in: 0..<0x3fff_ffff))
        try object.setConstant("eg_probe_tgid", to: UInt32(getpid()))
        try object.setConstant("eg_probe_cookie", to: cookie)
        try object.load()
        let link = try object.program("eg_probe_tp").attach()
        var received: eg_probe_event?
        let ring = try RingBuffer(try object.map("eg_probe_rb")) { record in
            received = EventRecord.decode(eg_probe_event.self, from: record)
        }
        _ = getpgid(pid_t(cookie))  // no such process: the call is only a signal to the probe
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(timeoutMilliseconds))
        while received == nil, clock.now < deadline { try ring.poll(timeoutMilliseconds: 100) }
        withExtendedLifetime(link) {}
        guard let event = received else {
            throw BPFError("reading a probe event from the ring buffer", reason: "no event arrived within \(timeoutMilliseconds) ms")
        }
        guard event.cookie == cookie, event.task.pid == UInt32(getpid()), event.hdr.type == UInt16(EG_EVENT_PROBE.rawValue) else {
            throw BPFError("reading a probe event from the ring buffer", reason: "the event arrived garbled")
        }
    }

    /// The doctor object with only `program` set to load, so one refused kind cannot hide another.
    private static func doctorObject(keeping program: String) throws -> BPFObject {
        let object = try BPFObject(embedded: "doctor")
        for candidate in object.programs { candidate.autoload = candidate.name == program }
        return object
    }
}
