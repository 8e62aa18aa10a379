import Foundation

/// Recent events (for `--since`) and the rates `status` reports. The hub never waits for a
/// subscriber: delivery appends to each subscriber's own buffer, which is bounded.
final class EventHub {
    struct Entry {
        let bootNanoseconds: UInt64
        let event: GovernedEvent
        /// The event's JSON line, without the newline.
        let line: [UInt8]
    }

    private var entries: [Entry?]
    private var next = 0
    private(set) var total: UInt64 = 0
    private var countAtLastTick: UInt64 = 0
    private var perSecond: [UInt64] = []
    var subscriberDrops: UInt64 = 0

    init(capacity: Int) {
        entries = Array(repeating: nil, count: max(1, capacity))
    }

    func record(_ entry: Entry) {
        entries[next] = entry
        next = (next + 1) % entries.count
        total += 1
    }

    /// Entries newer than `bootNanoseconds`, oldest first.
    func recent(since bootNanoseconds: UInt64) -> [Entry] {
        let ordered = entries[next...] + entries[..<next]
        return ordered.compactMap { $0 }.filter { $0.bootNanoseconds >= bootNanoseconds }
    }

    func tick() {
        perSecond.append(total - countAtLastTick)
        countAtLastTick = total
        if perSecond.count > 10 { perSecond.removeFirst(perSecond.count - 10) }
    }

    /// Mean over the last ten seconds.
    var eventsPerSecond: Double {
        perSecond.isEmpty ? 0 : Double(perSecond.reduce(0, +)) / Double(perSecond.count)
    }
}

extension EventFilter {
    func admits(_ event: GovernedEvent) -> Bool {
        if !sessions.isEmpty && !sessions.contains(where: {
            $0 == event.session || $0 == String(event.sessionID) || event.session.hasPrefix($0 + "-")
        }) { return false }
        if !kinds.isEmpty && !kinds.contains(event.kind.rawValue) { return false }
        if !verdicts.isEmpty && !verdicts.contains(event.verdict) { return false }
        if notable == true {
            return event.blocked || event.verdict == "audit" || event.kind == .decision || event.kind == .session
        }
        return true
    }
}
