import CEbguardABI
import EbguardBPF
import EbguardEnforcement
import Foundation
import Glibc

/// Writes operators' answers where the file and network hooks read them (eg_file_answers,
/// eg_net_answers): the retry of an asked access gets the human's verdict.
struct KernelAnswers {
    let enforcer: Enforcer

    /// How long a `once` answer waits for its retry.
    static let onceWindowNanoseconds: UInt64 = 60_000_000_000

    private func value(allow: Bool, once: Bool) -> eg_answer {
        var answer = eg_answer()
        answer.verdict = UInt8(allow ? EG_VERDICT_ALLOW.rawValue : EG_VERDICT_DENY.rawValue)
        answer.once = once ? 1 : 0
        answer.expires_ns = once ? EventClock.bootNanoseconds() + Self.onceWindowNanoseconds : 0
        return answer
    }

    /// One entry per access bit of `accessMask`.
    func file(sessionID: UInt64, device: UInt32, inode: UInt64, accessMask: UInt32, allow: Bool, once: Bool) throws {
        let map = try BPFMap<eg_file_answer_key, eg_answer>(pinnedAt: enforcer.mapPath("eg_file_answers"))
        for bit in 0..<UInt32(EG_ACCESS_KINDS.rawValue) where accessMask & (1 << bit) != 0 {
            var key = eg_file_answer_key()
            key.session_id = sessionID
            key.inode = inode
            key.device = device
            key.access = bit
            try map.update(key, value(allow: allow, once: once))
        }
    }

    func network(sessionID: UInt64, _ destination: DecisionEvent.Destination, allow: Bool, once: Bool) throws {
        let map = try BPFMap<eg_net_answer_key, eg_answer>(pinnedAt: enforcer.mapPath("eg_net_answers"))
        var key = eg_net_answer_key()
        key.session_id = sessionID
        key.family = destination.family
        key.protocol = destination.protocolNumber
        key.port = destination.port
        withUnsafeMutableBytes(of: &key.addr) { raw in
            for (index, byte) in destination.address.prefix(16).enumerated() { raw[index] = byte }
        }
        try map.update(key, value(allow: allow, once: once))
    }

    /// The kernel's internal dev_t (MKDEV: major << 20 | minor) for a stat(2) st_dev.
    static func kernelDevice(_ device: UInt64) -> UInt32 {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        return UInt32(truncatingIfNeeded: (major << 20) | minor)
    }
}
