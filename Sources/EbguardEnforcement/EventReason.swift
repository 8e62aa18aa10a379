internal import CEbguardABI
import EbguardBPF

/// Why an event's verdict is what it is: the kernel's reason code (`enum eg_reason`) or the
/// userspace decision's (an exec's argv, an operator's answer, a timeout, a session change).
/// Events carry it as this value; its text (`rule`, `too-long`, ...) is only how it is written.
/// Open like a name, not closed like an enum: a daemon must render a reason code a newer
/// kernel object sends it, and a client must read a reason a newer daemon writes.
public struct EventReason: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    // The kernel's (bpf/ebguard.h, enum eg_reason).
    public static let rule = EventReason("rule")
    public static let `default` = EventReason("default")
    public static let unresolved = EventReason("unresolved")
    public static let tooLong = EventReason("too-long")
    public static let noPolicy = EventReason("no-policy")
    public static let tamper = EventReason("tamper")
    public static let held = EventReason("held")
    public static let observed = EventReason("observed")
    public static let answered = EventReason("answered")
    public static let socket = EventReason("socket")
    public static let host = EventReason("host")
    public static let resolver = EventReason("resolver")
    /// Shadow mode: an exec argv or ask rules would hold, left running (its argv judged later).
    public static let unheld = EventReason("unheld")
    /// A `unless: git` deny let a git through that ebguard vetted at exec (audited).
    public static let vettedGit = EventReason("vetted-git")
    // Userspace's.
    /// A held exec decided from its command line.
    public static let argv = EventReason("argv")
    /// An ask raised, or an unanswered one that took the policy's on_timeout.
    public static let ask = EventReason("ask")
    public static let timeout = EventReason("timeout")

    /// The reason a kernel event's code stands for.
    public init(kernelCode code: UInt8) {
        switch UInt32(code) {
        case EG_REASON_RULE.rawValue: self = .rule
        case EG_REASON_DEFAULT.rawValue: self = .default
        case EG_REASON_UNRESOLVED.rawValue: self = .unresolved
        case EG_REASON_TOO_LONG.rawValue: self = .tooLong
        case EG_REASON_NO_POLICY.rawValue: self = .noPolicy
        case EG_REASON_TAMPER.rawValue: self = .tamper
        case EG_REASON_HELD.rawValue: self = .held
        case EG_REASON_OBSERVED.rawValue: self = .observed
        case EG_REASON_ANSWERED.rawValue: self = .answered
        case EG_REASON_SOCKET.rawValue: self = .socket
        case EG_REASON_HOST.rawValue: self = .host
        case EG_REASON_RESOLVER.rawValue: self = .resolver
        case EG_REASON_UNHELD.rawValue: self = .unheld
        case EG_REASON_VETTED_GIT.rawValue: self = .vettedGit
        default: self = EventReason("reason-\(code)")
        }
    }
}
