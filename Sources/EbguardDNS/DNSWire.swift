/// Why bytes are not a well-formed DNS message. Offsets count from the start of the message.
public enum DNSParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data ends inside a field that starts at `offset`.
    case truncated(offset: Int)
    /// A label length byte with the reserved top bits 01 or 10 (RFC 6891 retired extended labels).
    case badLabelType(offset: Int)
    /// A compression pointer not pointing before the name (or name part) that holds it: the only
    /// rule that makes loops impossible (each jump lands strictly earlier).
    case pointerNotBackwards(offset: Int, target: Int)
    /// More compression pointers in one name than `DNSWire.maxPointers`.
    case tooManyPointers(offset: Int)
    /// A name over 255 bytes once expanded, or a label over 63 (impossible on the wire, checked anyway).
    case nameTooLong(offset: Int)
    /// A section count that the remaining bytes cannot possibly hold.
    case countExceedsData(section: String, count: Int)
    /// Record data whose length does not fit its type (an A that is not 4 bytes, a CNAME that is not one name).
    case badRecordData(offset: Int, type: DNSType)
    /// Bytes after the last record the counts announce.
    case trailingBytes(offset: Int)

    public var description: String {
        switch self {
        case .truncated(let o): "DNS message truncated in the field at byte \(o)"
        case .badLabelType(let o): "reserved label type at byte \(o)"
        case .pointerNotBackwards(let o, let t): "compression pointer at byte \(o) to byte \(t) does not point backwards"
        case .tooManyPointers(let o): "more than \(DNSWire.maxPointers) compression pointers in the name at byte \(o)"
        case .nameTooLong(let o): "domain name at byte \(o) is longer than \(DNSName.maxWireLength) bytes"
        case .countExceedsData(let s, let n): "\(s) count \(n) exceeds the message's data"
        case .badRecordData(let o, let t): "malformed \(t) record data at byte \(o)"
        case .trailingBytes(let o): "unexpected bytes after the last record, at byte \(o)"
        }
    }
}

public enum DNSEncodeError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(Int)
    case recordDataTooLarge(Int)

    public var description: String {
        switch self {
        case .tooLarge(let n): "DNS message of \(n) bytes exceeds 65535"
        case .recordDataTooLarge(let n): "record data of \(n) bytes exceeds 65535"
        }
    }
}

enum DNSWire {
    /// Legitimate encoders use one pointer per name; a chain of pointers is only ever an attack.
    static let maxPointers = 16
    static let headerSize = 12
    static let minQuestionSize = 5      // root name + type + class
    static let minRecordSize = 11       // root name + type + class + ttl + rdlength
}

extension DNSMessage {
    public init(parsing bytes: [UInt8]) throws(DNSParseError) {
        var reader = DNSReader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let counts = [try reader.u16(), try reader.u16(), try reader.u16(), try reader.u16()]
        // Bound the work (and allocations) by the data before trusting any count.
        for (section, count, minimum) in [("question", counts[0], DNSWire.minQuestionSize), ("answer", counts[1], DNSWire.minRecordSize),
                                          ("authority", counts[2], DNSWire.minRecordSize), ("additional", counts[3], DNSWire.minRecordSize)]
            where Int(count) * minimum > reader.remaining {
            throw .countExceedsData(section: section, count: Int(count))
        }
        var questions: [DNSQuestion] = []
        for _ in 0..<counts[0] {
            let name = try reader.name()
            questions.append(DNSQuestion(name: name, type: DNSType(rawValue: try reader.u16()),
                                         recordClass: DNSClass(rawValue: try reader.u16())))
        }
        var sections: [[DNSRecord]] = []
        for count in counts.dropFirst() {
            var records: [DNSRecord] = []
            for _ in 0..<count { records.append(try reader.record()) }
            sections.append(records)
        }
        guard reader.remaining == 0 else { throw .trailingBytes(offset: reader.offset) }
        self.init(header: DNSHeader(id: id, flags: flags), questions: questions,
                  answers: sections[0], authorities: sections[1], additionals: sections[2])
    }

    /// The wire form, with names compressed (RFC 1035 §4.1.4) in owner names and in CNAME/NS/PTR data.
    public func encoded() throws(DNSEncodeError) -> [UInt8] {
        var writer = DNSWriter()
        writer.u16(header.id)
        writer.u16(header.flags)
        for count in [questions.count, answers.count, authorities.count, additionals.count] {
            guard count <= 0xFFFF else { throw .tooLarge(count) }
            writer.u16(UInt16(count))
        }
        for question in questions {
            writer.name(question.name)
            writer.u16(question.type.rawValue)
            writer.u16(question.recordClass.rawValue)
        }
        for record in answers + authorities + additionals { try writer.record(record) }
        guard writer.bytes.count <= 0xFFFF else { throw .tooLarge(writer.bytes.count) }
        return writer.bytes
    }
}

struct DNSReader {
    let bytes: [UInt8]
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func u16() throws(DNSParseError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSParseError) -> UInt32 {
        UInt32(try u16()) << 16 | UInt32(try u16())
    }

    mutating func name() throws(DNSParseError) -> DNSName {
        let (name, end) = try Self.name(in: bytes, at: offset)
        offset = end
        return name
    }

    /// Expands the name at `start`; returns it and the offset just after it in the original stream.
    static func name(in bytes: [UInt8], at start: Int) throws(DNSParseError) -> (DNSName, Int) {
        var labels: [[UInt8]] = []
        var position = start
        var segmentStart = start      // where the current run of labels began
        var end: Int?
        var pointers = 0
        var wireLength = 1
        while true {
            guard position < bytes.count else { throw .truncated(offset: position) }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    let name: DNSName
                    do { name = try DNSName(labels: labels) } catch { throw .nameTooLong(offset: start) }
                    return (name, end ?? position + 1)
                }
                guard position + 1 + length <= bytes.count else { throw .truncated(offset: position) }
                wireLength += 1 + length
                guard wireLength <= DNSName.maxWireLength else { throw .nameTooLong(offset: start) }
                labels.append(Array(bytes[(position + 1)..<(position + 1 + length)]))
                position += 1 + length
            case 0xC0:
                guard position + 1 < bytes.count else { throw .truncated(offset: position) }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < segmentStart else { throw .pointerNotBackwards(offset: position, target: target) }
                pointers += 1
                guard pointers <= DNSWire.maxPointers else { throw .tooManyPointers(offset: start) }
                if end == nil { end = position + 2 }
                position = target
                segmentStart = target
            default:
                throw .badLabelType(offset: position)
            }
        }
    }

    mutating func record() throws(DNSParseError) -> DNSRecord {
        let name = try name()
        let type = DNSType(rawValue: try u16())
        let recordClass = DNSClass(rawValue: try u16())
        let ttl = try u32()
        let length = Int(try u16())
        let start = offset
        guard remaining >= length else { throw .truncated(offset: start - 2) }
        offset += length
        let rdata = Array(bytes[start..<offset])
        let data: DNSRecordData
        switch type {
        case .a where recordClass == .internet, .aaaa where recordClass == .internet:
            guard length == (type == .a ? 4 : 16), let address = DNSIPAddress(bytes: rdata) else {
                throw .badRecordData(offset: start, type: type)
            }
            data = .address(address)
        case .cname, .ns, .ptr:
            let parsed: (DNSName, Int)
            do { parsed = try Self.name(in: bytes, at: start) } catch { throw .badRecordData(offset: start, type: type) }
            guard parsed.1 == offset else { throw .badRecordData(offset: start, type: type) }
            data = .name(parsed.0)
        default:
            data = .opaque(rdata)
        }
        return DNSRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }
}

struct DNSWriter {
    var bytes: [UInt8] = []
    /// Canonical text of every name suffix written so far -> its offset, for compression.
    private var suffixes: [Substring: Int] = [:]

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func u32(_ value: UInt32) { u16(UInt16(value >> 16)); u16(UInt16(value & 0xFFFF)) }

    mutating func name(_ name: DNSName) {
        // The canonical text escapes dots inside labels, so splitting it yields one part per label.
        let parts = name.text.split(separator: ".")
        for (index, label) in name.labels.enumerated() {
            let suffix = name.text[parts[index].startIndex...]
            if let offset = suffixes[suffix] {
                u16(0xC000 | UInt16(offset))
                return
            }
            if bytes.count < 0x3FFF { suffixes[suffix] = bytes.count }
            bytes.append(UInt8(label.count))
            bytes += label
        }
        bytes.append(0)
    }

    mutating func record(_ record: DNSRecord) throws(DNSEncodeError) {
        name(record.name)
        u16(record.type.rawValue)
        u16(record.recordClass.rawValue)
        u32(record.ttl)
        let lengthAt = bytes.count
        u16(0)
        switch record.data {
        case .address(let address): bytes += address.bytes
        case .name(let target): name(target)
        case .opaque(let rdata): bytes += rdata
        }
        let length = bytes.count - lengthAt - 2
        guard length <= 0xFFFF else { throw .recordDataTooLarge(length) }
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}
