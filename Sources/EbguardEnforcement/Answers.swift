internal import CEbguardABI
import EbguardBPF
import Glibc

/// An operator's answers to `ask` rules, written where the kernel's hooks read them: the
/// file hooks (`eg_file_answers`, keyed by the object's inode and device) and the network
/// hooks (`eg_net_answers`, keyed by the destination). The access that was asked fails at
/// once; its retry finds the answer and gets the operator's verdict (reason "answered").
/// Exec asks are held (SIGSTOP) and answered by resuming or killing the process instead.
public struct Answers {
    public enum Verdict: Sendable, Equatable {
        case allow, deny

        var kernelValue: UInt8 {
            switch self {
            case .allow: UInt8(EG_VERDICT_ALLOW.rawValue)
            case .deny: UInt8(EG_VERDICT_DENY.rawValue)
            }
        }
    }

    /// The folder the maps are pinned in (`Enforcer.pinRoot`).
    public let pinRoot: String

    public init(pinRoot: String) {
        self.pinRoot = pinRoot
    }

    public init(_ enforcer: Enforcer) {
        self.init(pinRoot: enforcer.pinRoot)
    }

    /// Answers an ask on one file for one access kind. `device` is the kernel's encoding, as
    /// the ask's event carries it (or `kernelDevice(fromStat:)` of `stat(2)`'s `st_dev`).
    /// - Parameters:
    ///   - once: the first access the answer decides consumes it; otherwise it holds for the
    ///     session (until `expires`, or until the session ends).
    ///   - expires: a `CLOCK_BOOTTIME` deadline in nanoseconds (`Answers.bootTime()`); nil: none.
    func answerFile(sessionID: UInt64, inode: UInt64, device: UInt32, access: eg_access, verdict: Verdict,
                           once: Bool, expires: UInt64? = nil) throws {
        let key = eg_file_answer_key(session_id: sessionID, inode: inode, device: device, access: access.rawValue)
        try fileAnswers().update(key, Self.answer(verdict, once: once, expires: expires))
    }

    /// Answers an ask on one file for every access kind in `accessMask` (1 << eg_access, as the
    /// ask's event carries it).
    public func answerFile(sessionID: UInt64, inode: UInt64, device: UInt32, accessMask: UInt32, verdict: Verdict,
                           once: Bool, expires: UInt64? = nil) throws {
        for bit in 0..<UInt32(EG_ACCESS_KINDS.rawValue) where accessMask & (1 << bit) != 0 {
            try answerFile(sessionID: sessionID, inode: inode, device: device, access: eg_access(rawValue: bit),
                           verdict: verdict, once: once, expires: expires)
        }
    }

    /// Answers an ask on one network destination: `family` AF_INET (also for an IPv4-mapped
    /// IPv6 destination) or AF_INET6, `protocol` 6 or 17, `address` 4 or 16 bytes in network
    /// order, all as the ask's event reported them.
    public func answerNetwork(sessionID: UInt64, family: Int32, protocol: UInt8, port: UInt16, address: [UInt8],
                              verdict: Verdict, once: Bool, expires: UInt64? = nil) throws {
        try netAnswers().update(Self.networkKey(sessionID: sessionID, family: family, protocol: `protocol`, port: port,
                                                address: address),
                                Self.answer(verdict, once: once, expires: expires))
    }

    /// Removes every answer of a session (when it ends: a later session could reuse the
    /// cgroup id). Maps that this kernel never loaded are skipped.
    public func removeAnswers(sessionID: UInt64) {
        if let files = try? fileAnswers(), let keys = try? files.keys() {
            for key in keys where key.session_id == sessionID { _ = try? files.delete(key) }
        }
        if let network = try? netAnswers(), let keys = try? network.keys() {
            for key in keys where key.session_id == sessionID { _ = try? network.delete(key) }
        }
    }

    /// The answers a session has in the file map (what is left after `once` answers were spent).
    func fileAnswers(sessionID: UInt64) throws -> [(key: eg_file_answer_key, answer: eg_answer)] {
        try fileAnswers().entries().filter { $0.key.session_id == sessionID }.map { ($0.key, $0.value) }
    }

    /// The answers a session has in the network map.
    func networkAnswers(sessionID: UInt64) throws -> [(key: eg_net_answer_key, answer: eg_answer)] {
        try netAnswers().entries().filter { $0.key.session_id == sessionID }.map { ($0.key, $0.value) }
    }

    /// The kernel's internal `dev_t` (`MKDEV(major, minor)` = major << 20 | minor), which the
    /// hooks read from `inode->i_sb->s_dev`, for `stat(2)`'s `st_dev` (glibc's encoding,
    /// taken apart as `gnu_dev_major` / `gnu_dev_minor` do).
    public static func kernelDevice(fromStat dev: UInt64) -> UInt32 {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)
        let minor = (dev & 0xff) | ((dev >> 12) & ~0xff)
        return UInt32(truncatingIfNeeded: major << 20 | (minor & 0xfffff))
    }

    /// Now on the clock the kernel compares `expires_ns` with (`bpf_ktime_get_boot_ns`).
    public static func bootTime() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    static func networkKey(sessionID: UInt64, family: Int32, protocol: UInt8, port: UInt16,
                           address: [UInt8]) -> eg_net_answer_key {
        precondition(address.count == (family == AF_INET6 ? 16 : 4), "a \(family == AF_INET6 ? "v6" : "v4") address has \(family == AF_INET6 ? 16 : 4) bytes")
        var key = eg_net_answer_key()
        key.session_id = sessionID
        key.family = UInt8(family)
        key.protocol = `protocol`
        key.port = port
        withUnsafeMutableBytes(of: &key.addr) { $0.copyBytes(from: address) }
        return key
    }

    static func answer(_ verdict: Verdict, once: Bool, expires: UInt64?) -> eg_answer {
        var answer = eg_answer()
        answer.verdict = verdict.kernelValue
        answer.once = once ? 1 : 0
        answer.expires_ns = expires ?? 0
        return answer
    }

    private func fileAnswers() throws -> BPFMap<eg_file_answer_key, eg_answer> {
        try KernelMaps.fileAnswers.open(in: pinRoot)
    }

    private func netAnswers() throws -> BPFMap<eg_net_answer_key, eg_answer> {
        try KernelMaps.networkAnswers.open(in: pinRoot)
    }
}
