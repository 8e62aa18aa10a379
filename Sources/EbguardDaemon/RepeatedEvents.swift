import EbguardAudit
import EbguardEnforcement

/// What the loop keeps of the last kernel decision it published in full, so that the next record
/// equal to it but for its time (a program retrying a refused operation in a loop, the flood a
/// hostile program can make) is published without being decoded or rendered again: its line is
/// the same line with a new number and time, and its audit record one more repeat of the same
/// decision (`AuditRepeats`).
///
/// Anything else the loop publishes or reads in between forgets it, since that may change what
/// the next event would say (a session's end, a policy change, an exec that changes the
/// process's program). So do asks and host-name decisions, which say more than their record.
struct RepeatCache {
    /// How the last event went into the audit trail.
    enum Trail: Equatable {
        /// Not a record the trail keeps.
        case notRecorded
        /// Its decision is the one `AuditRepeats` counts repeats on, as of this generation.
        case latest(generation: UInt64)
    }

    private var record = RepeatedRecord()
    private var tail: [UInt8] = []
    private var tag: EventTag?
    private var trail = Trail.notRecorded

    mutating func forget() {
        record.forget()
        tag = nil
    }

    mutating func remember(_ record: UnsafeRawBufferPointer, line: [UInt8], tailStart: Int, tag: EventTag, trail: Trail) {
        self.record.remember(record)
        tail.removeAll(keepingCapacity: true)
        tail.append(contentsOf: line[tailStart...])
        self.tag = tag
        self.trail = trail
    }

    /// The cached event's tag, tail and trail when `record` repeats it.
    func repeats(_ record: UnsafeRawBufferPointer) -> (tag: EventTag, tail: [UInt8], trail: Trail)? {
        guard let tag, self.record.matches(record) else { return nil }
        return (tag, tail, trail)
    }
}

extension Daemon {
    /// Publishes `record` as a repeat of the last event when it is one; false when it is not
    /// (the caller then decodes it and publishes it in full).
    func publishRepeat(_ record: UnsafeRawBufferPointer) -> Bool {
        guard let (tag, tail, trail) = repeatCache.repeats(record), let time = RepeatedRecord.time(of: record) else {
            return false
        }
        if case .latest(let generation) = trail, generation != auditRepeats.latestGeneration { return false }
        let seq = hub.total + 1
        var line: [UInt8] = []
        line.reserveCapacity(tail.count + 80)
        GovernedEvent.appendJSONHead(seq: seq, time: clock.rfc3339(bootNanoseconds: time, cache: timeText), into: &line)
        line.append(contentsOf: tail)
        deliver(EventHub.Entry(bootNanoseconds: time, tag: tag.numbered(seq), line: line))
        hub.repeated += 1
        if case .latest = trail {
            auditRepeats.countLatest(at: AuditTime(nanoseconds: clock.realNanoseconds(bootNanoseconds: time)))
        }
        return true
    }
}
