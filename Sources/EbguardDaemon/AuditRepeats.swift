import EbguardAudit

/// Folds repeats of one decision into a count, so a program that retries a denied operation in
/// a loop writes one record a second instead of one per attempt: at 10,000 denials a second the
/// trail would otherwise grow by about 5 MB/s, enough for a governed program to fill the disk.
///
/// The first occurrence is always written in full, at once. Identical decisions after it (the
/// same session, pid, program, object, access, rule and verdict) are counted; once a second the
/// daemon writes what was counted as one more `decision` record with `repeats`, `first_time`
/// and `last_time` (docs/audit.md). Nothing is folded across a session's end. After a `kill -9`,
/// the count of the last second is what can be lost, never a first occurrence.
///
/// Owned by the daemon's loop, like everything it reads: no locks.
public struct AuditRepeats {
    /// A class, so the last decision's tally is changed without hashing the decision again.
    final class Tally {
        var repeats: UInt64 = 0
        var first = AuditTime(nanoseconds: 0)
        var last: AuditTime
        init(last: AuditTime) { self.last = last }
    }

    /// Keys tracked at once; past this, new decisions are written without being tracked.
    public let capacity: Int
    /// A key with no repeat for this long is forgotten: the next occurrence is written in full.
    public let idle: Int64
    private var tallies: [AuditDecision: Tally] = [:]
    /// The decision admitted last: a retry loop repeats it, and comparing is cheaper than hashing.
    private var latest: (decision: AuditDecision, tally: Tally)? { didSet { latestGeneration &+= 1 } }
    /// Changes whenever `latest` does: a caller that saw its decision become the latest one
    /// can count its repeats with `countLatest` for as long as this stays the same.
    public private(set) var latestGeneration: UInt64 = 0
    /// The event `latest` was made from, without its sequence number and time: an equal event
    /// makes an equal record, so a retry is counted before any record is built for it.
    private var latestEvent: GovernedEvent?

    public init(capacity: Int = 4096, idleNanoseconds: Int64 = 1_000_000_000) {
        self.capacity = capacity
        self.idle = idleNanoseconds
    }

    /// True when `event` repeats the event whose decision was admitted last, and was counted
    /// as such: the caller then needs no record for it.
    /// `event` is borrowed to compare it without its number and time, and handed back as it came
    /// (a copy of an event costs more than the comparison).
    public mutating func countRepeat(of event: inout GovernedEvent, at time: AuditTime) -> Bool {
        guard let latest, let latestEvent else { return false }
        let (seq, eventTime) = (event.seq, event.time)
        event.seq = 0
        event.time = ""
        let same = event == latestEvent
        (event.seq, event.time) = (seq, eventTime)
        guard same else { return false }
        count(latest.tally, at: time)
        return true
    }

    /// Counts one more repeat of the latest decision (see `latestGeneration`).
    public mutating func countLatest(at time: AuditTime) {
        if let latest { count(latest.tally, at: time) }
    }

    /// Whether the decision `admit` took last is the one repeats are counted on now (false when
    /// it was written untracked, past `capacity`).
    public private(set) var admittedIsLatest = false

    /// True when `decision` must be written now; false when it was counted as a repeat.
    /// `event`, the one `decision` was made from, lets `countRepeat` recognise its retries.
    public mutating func admit(_ decision: AuditDecision, at time: AuditTime, from event: GovernedEvent? = nil) -> Bool {
        admittedIsLatest = true
        if let latest, latest.decision == decision {
            count(latest.tally, at: time)
            return false
        }
        latestEvent = nil
        if let tally = tallies[decision] {
            latest = (decision, tally)
            latestEvent = event.map(Self.identity)
            count(tally, at: time)
            return false
        }
        if tallies.count < capacity {
            let tally = Tally(last: time)
            tallies[decision] = tally
            latest = (decision, tally)
            latestEvent = event.map(Self.identity)
        } else {
            admittedIsLatest = false
        }
        return true
    }

    /// What an event's audit record is made of: all of it but its number and time.
    private static func identity(of event: GovernedEvent) -> GovernedEvent {
        var event = event
        event.seq = 0
        event.time = ""
        return event
    }

    private func count(_ tally: Tally, at time: AuditTime) {
        if tally.repeats == 0 { tally.first = time }
        tally.repeats += 1
        tally.last = time
    }

    /// The repeats counted since the last call, as records to write; forgets keys idle since
    /// `idle` before `now`. `session` limits both to one session (its end).
    public mutating func drain(at now: AuditTime, session: String? = nil, forgetAll: Bool = false) -> [AuditDecision] {
        var records: [AuditDecision] = []
        latest = nil
        latestEvent = nil
        // The tallies kept are gathered into a new table: removing keys from the one being
        // iterated made a copy of it, thousands of entries, every second of a flood.
        var kept: [AuditDecision: Tally] = [:]
        for (decision, tally) in tallies {
            guard session == nil || decision.session == session else {
                kept[decision] = tally
                continue
            }
            let counted = tally.repeats > 0
            if counted {
                var record = decision
                record.repeats = tally.repeats
                record.firstTime = tally.first.rfc3339
                record.lastTime = tally.last.rfc3339
                records.append(record)
                tally.repeats = 0
            }
            if !(forgetAll || session != nil || (!counted && now.nanoseconds - tally.last.nanoseconds >= idle)) {
                kept[decision] = tally
            }
        }
        tallies = kept
        // Oldest first, so the summaries keep the order in which their repeats began.
        return records.sorted { ($0.firstTime ?? "") < ($1.firstTime ?? "") }
    }

    public var tracked: Int { tallies.count }
}
