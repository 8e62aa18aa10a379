/// A DNS message (RFC 1035 §4): header, questions and three sections of resource records.
///
/// `init(parsing:)` is strict: every length is checked against the data, compression pointers
/// may only point backwards (so they cannot loop) and are bounded in number, names and labels
/// keep their RFC limits, and bytes after the last record are an error. Nothing in the input
/// can trap; every failure is a `DNSParseError` naming the offset.
public struct DNSMessage: Equatable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authorities: [DNSRecord]
    public var additionals: [DNSRecord]

    public init(header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSRecord] = [],
                authorities: [DNSRecord] = [], additionals: [DNSRecord] = []) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// A standard query for one name, recursion desired.
    public static func query(id: UInt16, name: DNSName, type: DNSType, recursionDesired: Bool = true) -> DNSMessage {
        var header = DNSHeader(id: id)
        header.recursionDesired = recursionDesired
        return DNSMessage(header: header, questions: [DNSQuestion(name: name, type: type)])
    }

    /// The EDNS(0) OPT pseudo-record (RFC 6891), if the message carries one.
    public var opt: DNSRecord? { additionals.first { $0.type == .opt } }
}

/// The fixed 12-byte header; section counts are derived from the message's arrays when encoding.
public struct DNSHeader: Equatable, Sendable {
    public var id: UInt16
    /// QR, opcode, AA, TC, RD, RA, Z, AD, CD and RCODE, as on the wire.
    public var flags: UInt16

    public init(id: UInt16, flags: UInt16 = 0) {
        self.id = id
        self.flags = flags
    }

    public var isResponse: Bool { get { bit(15) } set { set(15, newValue) } }
    public var opcode: UInt8 {
        get { UInt8((flags >> 11) & 0xF) }
        set { flags = (flags & ~(0xF << 11)) | (UInt16(newValue & 0xF) << 11) }
    }
    public var authoritative: Bool { get { bit(10) } set { set(10, newValue) } }
    public var truncated: Bool { get { bit(9) } set { set(9, newValue) } }
    public var recursionDesired: Bool { get { bit(8) } set { set(8, newValue) } }
    public var recursionAvailable: Bool { get { bit(7) } set { set(7, newValue) } }
    public var authenticData: Bool { get { bit(5) } set { set(5, newValue) } }
    public var checkingDisabled: Bool { get { bit(4) } set { set(4, newValue) } }
    public var responseCode: DNSResponseCode {
        get { DNSResponseCode(rawValue: UInt8(flags & 0xF)) }
        set { flags = (flags & ~0xF) | UInt16(newValue.rawValue & 0xF) }
    }

    private func bit(_ n: UInt16) -> Bool { flags & (1 << n) != 0 }
    private mutating func set(_ n: UInt16, _ on: Bool) {
        if on { flags |= 1 << n } else { flags &= ~(1 << n) }
    }
}

public struct DNSQuestion: Equatable, Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var recordClass: DNSClass

    public init(name: DNSName, type: DNSType, recordClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}

/// A resource record. `rdata` is kept as received for every type; `data` is the decoded form for
/// the types the resolver reads (A, AAAA, CNAME), decoded with the whole message so that a
/// compressed CNAME target is expanded.
public struct DNSRecord: Equatable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var recordClass: DNSClass
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSType, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }
}

public enum DNSRecordData: Equatable, Sendable {
    /// A: exactly 4 bytes; AAAA: exactly 16 (checked by the parser).
    case address(DNSIPAddress)
    /// CNAME (and NS, PTR): one domain name, expanded.
    case name(DNSName)
    /// Any other type, byte for byte. Encoded back verbatim, so it must not hold compression
    /// pointers (RFC 3597 §4 forbids them in all but the original RFC 1035 types).
    case opaque([UInt8])
}

/// A record or query type (RFC 1035 §3.2.2 and later registrations); unknown values are kept.
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let null = DNSType(rawValue: 10)
    public static let ptr = DNSType(rawValue: 12)
    public static let mx = DNSType(rawValue: 15)
    public static let txt = DNSType(rawValue: 16)
    public static let aaaa = DNSType(rawValue: 28)
    public static let srv = DNSType(rawValue: 33)
    public static let opt = DNSType(rawValue: 41)
    public static let https = DNSType(rawValue: 65)
    public static let ixfr = DNSType(rawValue: 251)
    public static let axfr = DNSType(rawValue: 252)
    public static let any = DNSType(rawValue: 255)

    private static let names: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
        33: "SRV", 41: "OPT", 65: "HTTPS", 251: "IXFR", 252: "AXFR", 255: "ANY",
    ]
    /// The mnemonic, or `TYPEn` (RFC 3597 §5) for the rest.
    public var description: String { Self.names[rawValue] ?? "TYPE\(rawValue)" }
}

public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let internet = DNSClass(rawValue: 1)
    public static let chaos = DNSClass(rawValue: 3)
    public static let any = DNSClass(rawValue: 255)

    public var description: String {
        switch rawValue { case 1: "IN"; case 3: "CH"; case 255: "ANY"; default: "CLASS\(rawValue)" }
    }
}

/// RCODE (RFC 1035 §4.1.1), the four header bits.
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"; case 1: "FORMERR"; case 2: "SERVFAIL"; case 3: "NXDOMAIN"; case 4: "NOTIMP"
        case 5: "REFUSED"; default: "RCODE\(rawValue)"
        }
    }
}
