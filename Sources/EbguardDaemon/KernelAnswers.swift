import EbguardEnforcement
import Foundation
import Glibc

/// The daemon's side of `Answers`: one entry per access kind asked, `once` answers waiting
/// a minute for their retry, destinations as the events carried them.
struct KernelAnswers {
    let enforcer: Enforcer

    /// How long a `once` answer waits for its retry.
    static let onceWindowNanoseconds: UInt64 = 60_000_000_000

    private func expiry(_ once: Bool) -> UInt64? { once ? Answers.bootTime() + Self.onceWindowNanoseconds : nil }

    func file(sessionID: UInt64, device: UInt32, inode: UInt64, accessMask: UInt32, allow: Bool, once: Bool) throws {
        try Answers(enforcer).answerFile(sessionID: sessionID, inode: inode, device: device, accessMask: accessMask,
                                         verdict: allow ? .allow : .deny, once: once, expires: expiry(once))
    }

    func network(sessionID: UInt64, _ destination: DecisionEvent.Destination, allow: Bool, once: Bool) throws {
        let family = Int32(destination.family)
        let length = family == AF_INET6 ? 16 : 4
        guard destination.address.count >= length else {
            throw ControlError("answer", "destination address of \(destination.address.count) bytes for family \(family)")
        }
        try Answers(enforcer).answerNetwork(sessionID: sessionID, family: family, protocol: destination.protocolNumber,
                                            port: destination.port, address: Array(destination.address.prefix(length)),
                                            verdict: allow ? .allow : .deny, once: once, expires: expiry(once))
    }

    /// The kernel's internal dev_t for a stat(2) st_dev.
    static func kernelDevice(_ device: UInt64) -> UInt32 { Answers.kernelDevice(fromStat: device) }
}
