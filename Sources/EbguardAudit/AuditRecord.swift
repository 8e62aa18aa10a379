import Crypto

/// The machine a record was written on.
public struct HostIdentity: Sendable, Hashable {
    public var name: String
    /// The contents of `/etc/machine-id` (32 hex digits), or `""` when the file is missing.
    public var machineID: String

    public init(name: String, machineID: String) {
        self.name = name
        self.machineID = machineID
    }

    /// This host: `gethostname(2)` and the first line of `machineIDPath`.
    public static func current(machineIDPath: String = "/etc/machine-id") -> HostIdentity {
        let name = SystemHost.hostname()
        let id = (try? SystemHost.readSmallFile(machineIDPath)).map {
            String(decoding: $0, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        } ?? ""
        return HostIdentity(name: name, machineID: id.trimmingSpaces())
    }

    var json: JSONValue { ["name": .string(name), "machine_id": .string(machineID)] }
}

/// SHA-256 as the chain uses it: lowercase hex of the digest of a record's exact bytes.
public enum AuditHash {
    /// The `prev` of the very first record of a log: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    public static func sha256Hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if let hex = bytes.withContiguousStorageIfAvailable({ AuditChainLink(hashing: UnsafeRawBufferPointer($0)).text }) {
            return hex
        }
        return Array(bytes).withUnsafeBytes { AuditChainLink(hashing: $0).text }
    }

    /// The log hashes every line it writes: no copy of the bytes, no intermediate arrays.
    public static func sha256Hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { AuditChainLink(hashing: $0).text } }
}

/// One link of the chain, a line's SHA-256 as its 64 hex digits, held inline: the writer
/// hashes every record and writes the digits into the next line, with no string in between.
struct AuditChainLink {
    private typealias Digits = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    private var digits: Digits = (0, 0, 0, 0, 0, 0, 0, 0)

    init(hashing bytes: UnsafeRawBufferPointer) {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)  // the DataProtocol form walks regions generically
        let digest = hasher.finalize()
        withUnsafeMutableBytes(of: &digits) { out in
            digest.withUnsafeBytes { digest in
                let hex: StaticString = "0123456789abcdef"
                let table = hex.utf8Start
                for index in 0..<32 {
                    let byte = digest[index]
                    out[2 * index] = table[Int(byte >> 4)]
                    out[2 * index + 1] = table[Int(byte & 0xF)]
                }
            }
        }
    }

    /// A link read back as text (a log's last line, its head file); nil unless 64 ASCII bytes.
    init?(text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 64, bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        withUnsafeMutableBytes(of: &digits) { $0.copyBytes(from: bytes) }
    }

    var text: String {
        withUnsafeBytes(of: digits) { String(decoding: $0, as: UTF8.self) }
    }

    func append(to out: inout [UInt8]) {
        withUnsafeBytes(of: digits) { out.append(contentsOf: $0) }
    }
}

/// Why a line is not a well-formed audit record.
public enum AuditRecordError: Error, Sendable, CustomStringConvertible {
    case notJSON(JSONParseError)
    case missingField(String)
    case notCanonical

    public var description: String {
        switch self {
        case .notJSON(let e): "not a JSON record (\(e))"
        case .missingField(let f): "record lacks a valid \"\(f)\" field"
        case .notCanonical: "record is not in canonical form (its bytes were re-encoded or edited)"
        }
    }
}

/// One line of the audit log.
///
/// ```
/// {"data":{...},"host":{"machine_id":"…","name":"web-1"},"prev":"<sha256 of the previous line>",
///  "seq":42,"time":"2026-05-04T09:12:33.482113Z","type":"decision","v":1}
/// ```
/// `prev` is the SHA-256 of the previous record's line, without its newline; `seq` rises by
/// exactly one per record, across rotated files and restarts.
public struct AuditRecord: Sendable, Hashable {
    /// The value of `v` this version writes.
    public static let formatVersion: Int64 = 1

    public var version: Int64
    public var seq: UInt64
    public var time: AuditTime
    public var host: HostIdentity
    public var prev: String
    public var type: String
    public var data: JSONValue

    public init(seq: UInt64, time: AuditTime, host: HostIdentity, prev: String, event: AuditEvent) {
        self.version = Self.formatVersion
        self.seq = seq
        // The line keeps microseconds; so does the value, so that it equals what is read back.
        self.time = AuditTime(nanoseconds: time.nanoseconds.floorDiv(1000) * 1000)
        self.host = host
        self.prev = prev
        self.type = event.typeName
        self.data = event.data
    }

    /// The typed payload, or nil for a record type this version does not know.
    public var event: AuditEvent? { AuditEvent(type: type, data: data) }

    public var json: JSONValue {
        [
            "v": .int(version), "seq": .int(Int64(seq)), "time": .string(time.rfc3339), "host": host.json,
            "prev": .string(prev), "type": .string(type), "data": data,
        ]
    }

    /// The record's line, without the newline: what the next record's `prev` hashes. Written
    /// straight in canonical key order (data, host, prev, seq, time, type, v); equal to
    /// `json.canonicalBytes`, which the tests hold it to.
    public var line: [UInt8] {
        Self.line(seq: seq, time: time, host: host, prev: prev, type: type, version: version) { data.write(into: &$0) }
    }

    /// The line of the record `init(seq:time:host:prev:event:)` would make, without making it.
    static func line(seq: UInt64, time: AuditTime, host: HostIdentity, prev: String, event: AuditEvent) -> [UInt8] {
        line(seq: seq, time: AuditTime(nanoseconds: time.nanoseconds.floorDiv(1000) * 1000), host: host,
             prev: prev, type: event.typeName, version: formatVersion) { event.writeCanonicalPayload(into: &$0) }
    }

    private static func line(seq: UInt64, time: AuditTime, host: HostIdentity, prev: String, type: String,
                             version: Int64, data: (inout [UInt8]) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(960)
        let hostPart = LineParts(host: host)
        hostPart.append(seq: seq, time: time, prev: { JSONValue.writeString(prev, into: &$0) }, type: type, version: version,
                        into: &out, data: data)
        return out
    }

    /// A line's parts that are the same for every record a log writes: the host, and the keys
    /// around the payload. The log's hot path appends each record straight into its buffer.
    struct LineParts {
        /// `,"host":{...},"prev":` : everything between the payload and the previous link.
        let afterData: [UInt8]

        init(host: HostIdentity) {
            var bytes = Array(#","host":{"machine_id":"#.utf8)
            JSONValue.writeString(host.machineID, into: &bytes)
            bytes.append(contentsOf: #","name":"#.utf8)
            JSONValue.writeString(host.name, into: &bytes)
            bytes.append(contentsOf: #"},"prev":"#.utf8)
            afterData = bytes
        }

        /// Appends the line, in canonical key order (data, host, prev, seq, time, type, v); the
        /// tests hold it equal to `json.canonicalBytes`. `time` is taken as it is (microseconds).
        func append(seq: UInt64, time: AuditTime, prev: (inout [UInt8]) -> Void, type: String, version: Int64 = formatVersion,
                    into out: inout [UInt8], data: (inout [UInt8]) -> Void) {
            out.append(contentsOf: #"{"data":"#.utf8)
            data(&out)
            out.append(contentsOf: afterData)
            prev(&out)
            out.append(contentsOf: #","seq":"#.utf8)
            out.appendDecimal(seq)
            out.append(contentsOf: #","time":""#.utf8)
            time.appendRFC3339(into: &out)
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: #","type":"#.utf8)
            JSONValue.writeString(type, into: &out)
            out.append(contentsOf: #","v":"#.utf8)
            out.appendDecimal(version)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Parses one line (without its newline). With `requireCanonical`, a line whose bytes
    /// differ from the canonical encoding of what it says is refused.
    public init<C: Collection>(line: C, requireCanonical: Bool = false) throws(AuditRecordError) where C.Element == UInt8 {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw .notJSON(error) }
        guard let v = value["v"]?.intValue else { throw .missingField("v") }
        guard let seq = value["seq"]?.intValue, seq > 0 else { throw .missingField("seq") }
        guard let timeText = value["time"]?.stringValue, let time = AuditTime(rfc3339: timeText) else {
            throw .missingField("time")
        }
        guard let name = value["host"]?["name"]?.stringValue, let id = value["host"]?["machine_id"]?.stringValue else {
            throw .missingField("host")
        }
        guard let prev = value["prev"]?.stringValue, prev.utf8.count == 64 else { throw .missingField("prev") }
        guard let type = value["type"]?.stringValue else { throw .missingField("type") }
        guard let data = value["data"], data.objectValue != nil else { throw .missingField("data") }
        if requireCanonical, value.canonicalBytes != Array(line) { throw .notCanonical }
        self.version = v
        self.seq = UInt64(seq)
        self.time = time
        self.host = HostIdentity(name: name, machineID: id)
        self.prev = prev
        self.type = type
        self.data = data
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
