import EbguardPolicy
import Foundation

/// Recent events (for `--since`) and the rates `status` reports. The hub never waits for a
/// subscriber: delivery appends to each subscriber's own buffer, which is bounded.
final class EventHub {
    /// The line and what a filter asks of it, not the whole event: the hub holds thousands,
    /// and an event's dozen strings cost a retain each way per copy.
    struct Entry {
        let bootNanoseconds: UInt64
        let tag: EventTag
        /// The event's JSON line, without the newline.
        let line: [UInt8]

        init(bootNanoseconds: UInt64, event: GovernedEvent, line: [UInt8]) {
            self.init(bootNanoseconds: bootNanoseconds, tag: EventTag(event), line: line)
        }

        init(bootNanoseconds: UInt64, tag: EventTag, line: [UInt8]) {
            self.bootNanoseconds = bootNanoseconds
            self.tag = tag
            self.line = line
        }
    }

    private var entries: [Entry?]
    private var next = 0
    private(set) var total: UInt64 = 0
    /// Of `total`, the events published as repeats of the record before (RepeatedEvents.swift).
    var repeated: UInt64 = 0
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

/// What `EventFilter` decides by.
struct EventTag {
    private(set) var seq: UInt64
    let session: String
    let sessionID: UInt64
    let kind: GovernedEvent.Kind
    let verdict: EventVerdict
    let blocked: Bool

    init(_ event: GovernedEvent) {
        seq = event.seq
        session = event.session
        sessionID = event.sessionID
        kind = event.kind
        verdict = event.verdict
        blocked = event.blocked
    }

    /// The same tag on the event numbered `seq`.
    func numbered(_ seq: UInt64) -> EventTag {
        var tag = self
        tag.seq = seq
        return tag
    }
}

extension EventFilter {
    func admits(_ event: GovernedEvent) -> Bool { admits(EventTag(event)) }

    func admits(_ event: EventTag) -> Bool {
        if !sessions.isEmpty && !sessions.contains(where: {
            $0 == event.session || $0 == String(event.sessionID) || event.session.hasPrefix($0 + "-")
        }) { return false }
        if !kinds.isEmpty && !kinds.contains(event.kind.rawValue) { return false }
        if !verdicts.isEmpty && !verdicts.contains(event.verdict.rawValue) { return false }
        if notable == true {
            return event.blocked || (event.verdict == .audit && !hidesAudits) || event.verdict == .wouldDeny || event.verdict == .wouldAsk
                || event.kind == .decision || event.kind == .session
        }
        return true
    }
}
