/// Where an existing log ends: the last record that parses, and what follows it in the active
/// file (a torn line left by a crash). The writer continues the chain from here.
struct AuditTail {
    var lastSeq: UInt64 = 0
    var lastHash: String = AuditHash.genesis
    /// Bytes after the last record in the active file, and the line number they start on.
    var torn: (line: Int, bytes: [UInt8])?
    /// The active file's size.
    var activeSize: Int64 = 0

    /// Scans the active file, then older files while none holds a record. A line counts as
    /// the last record when it parses; a crash can only leave garbage after it, never before.
    static func find(_ files: AuditLogFiles) throws(AuditIOError) -> AuditTail {
        var tail = AuditTail()
        var candidates = [files.path] + files.rotatedNumbers().sorted().map(files.rotatedPath)
        var isActive = true
        while !candidates.isEmpty {
            let path = candidates.removeFirst()
            defer { isActive = false }
            guard (try SystemHost.fileSize(path)) != nil else { continue }
            let bytes = try SystemHost.readSmallFile(path)
            if isActive { tail.activeSize = Int64(bytes.count) }
            let split = AuditLines(bytes)
            var tornStart = bytes.count
            var tornLine = split.lines.count + 1
            if let partial = split.unterminated { tornStart = partial.lowerBound }
            for (index, range) in split.lines.enumerated().reversed() {
                if let record = try? AuditRecord(line: bytes[range]) {
                    tail.lastSeq = record.seq
                    tail.lastHash = AuditHash.sha256Hex(bytes[range])
                    if isActive, tornStart < bytes.count {
                        tail.torn = (tornLine, Array(bytes[tornStart...]))
                    }
                    return tail
                }
                tornStart = range.lowerBound
                tornLine = index + 1
            }
            // No record in this file: if it is the active one, all of it is torn.
            if isActive, !bytes.isEmpty { tail.torn = (1, bytes) }
        }
        return tail
    }
}
