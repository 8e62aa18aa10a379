import Foundation
import Synchronization

/// The resolver's protections against a hostile session: it can flood, hold queries open and
/// send anything. Defaults suit one interactive agent session; the daemon may tighten them.
public struct DNSLimits: Sendable {
    /// Token bucket over all well-formed queries: a build resolves a few hundred names in a burst,
    /// a tunnel or flood needs thousands per second. Over the limit: REFUSED at once.
    public var queriesPerSecond: Double = 200
    public var burst: Double = 400
    /// Queries between arrival and answer (blocked in `decide`, waiting for the upstream). Each
    /// holds a thread, so this bounds memory; a human-held ask must not block everyone else, and
    /// past the bound the resolver answers REFUSED instead of queueing.
    public var maxInFlight: Int = 64
    /// TCP: each connection holds a thread; idle ones are closed (RFC 7766 §6.2.3 suggests
    /// seconds, not minutes).
    public var maxTCPConnections: Int = 32
    public var tcpIdleTimeout: Duration = .seconds(10)
    /// A query carries one question and at most an OPT record: 512 bytes (the classic UDP limit)
    /// is more than any legitimate one needs. Larger ones are dropped unread.
    public var maxQuerySize: Int = 512
    /// Per attempt; two attempts, each from a fresh socket and id.
    public var upstreamTimeout: Duration = .seconds(2)
    public var upstreamAttempts: Int = 2

    public init() {}
}

/// A token bucket: `rate` tokens a second up to `burst`; `take()` spends one if there is one.
final class TokenBucket: Sendable {
    private struct State { var tokens: Double; var last: UInt64 }
    private let rate: Double
    private let burst: Double
    private let state: Mutex<State>

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
        state = Mutex(State(tokens: burst, last: DispatchTime.now().uptimeNanoseconds))
    }

    func take() -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        return state.withLock { s in
            s.tokens = min(burst, s.tokens + Double(now &- s.last) / 1e9 * rate)
            s.last = now
            guard s.tokens >= 1 else { return false }
            s.tokens -= 1
            return true
        }
    }
}

/// A counter with a ceiling, for in-flight queries and TCP connections.
final class Slots: Sendable {
    private let limit: Int
    private let used = Mutex(0)

    init(limit: Int) { self.limit = limit }

    func acquire() -> Bool {
        used.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func release() { used.withLock { $0 -= 1 } }
    var count: Int { used.withLock { $0 } }
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
