@testable import EbguardDNS
import Testing

/// Crafted messages a hostile client (or a broken upstream) could send: each must be rejected
/// with the error that names the flaw, never trap.
@Suite struct DNSMalformedTests {
    /// A header with the given counts (id 1, RD).
    static func header(qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        [0, 1, 0x01, 0x00] + [qd, an, ns, ar].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    static let typeAClassIN: [UInt8] = [0, 1, 0, 1]

    @Test func pointerToItselfIsALoop() {
        let bytes: [UInt8] = Self.header() + [0xC0, 12] + Self.typeAClassIN
        #expect(throws: DNSParseError.pointerNotBackwards(offset: 12, target: 12)) { try DNSMessage(parsing: bytes) }
    }

    @Test func pointerBackIntoTheSameNameIsALoop() {
        // "a" then a pointer to the start of "a": backwards in the buffer, but into this very name.
        let bytes: [UInt8] = Self.header() + [1, 0x61, 0xC0, 12] + Self.typeAClassIN
        #expect(throws: DNSParseError.pointerNotBackwards(offset: 14, target: 12)) { try DNSMessage(parsing: bytes) }
    }

    @Test func twoNamesPointingAtEachOther() {
        // Question name "a" + pointer to the answer's name, which points back at the question's.
        let bytes: [UInt8] = Self.header(an: 1) + [1, 0x61, 0xC0, 20] + Self.typeAClassIN + [0xC0, 12] + Self.typeAClassIN + [0, 0, 0, 1, 0, 0]
        #expect(throws: DNSParseError.pointerNotBackwards(offset: 14, target: 20)) { try DNSMessage(parsing: bytes) }
    }

    @Test func pointerForward() {
        let bytes: [UInt8] = Self.header() + [0xC0, 18] + Self.typeAClassIN + [1, 0x61, 0]
        #expect(throws: DNSParseError.pointerNotBackwards(offset: 12, target: 18)) { try DNSMessage(parsing: bytes) }
    }

    @Test func pointerIntoTheHeaderIsStillBounded() throws {
        // id 0xC000 reads as a pointer to offset 0 from offset 0: not backwards.
        var bytes: [UInt8] = Self.header() + [0xC0, 0] + Self.typeAClassIN
        bytes[0] = 0xC0
        bytes[1] = 0
        #expect(throws: DNSParseError.pointerNotBackwards(offset: 0, target: 0)) { try DNSMessage(parsing: bytes) }
    }

    @Test func longChainOfPointers() {
        // Each answer's owner points at the previous answer's owner: all backwards, but far more
        // hops than any encoder uses.
        var bytes: [UInt8] = Self.header(an: 20) + [1, 0x61, 0] + Self.typeAClassIN
        var previous = 12
        for _ in 0..<20 {
            let here = bytes.count
            bytes += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF), 0, 16, 0, 1] + [0, 0, 0, 1, 0, 0]   // TXT, empty
            previous = here
        }
        let chained = DNSWire.maxPointers + 1
        #expect(throws: DNSParseError.tooManyPointers(offset: 12 + 7 + 12 * chained - 12)) {
            try DNSMessage(parsing: bytes)
        }
    }

    @Test func reservedLabelTypes() {
        for type: UInt8 in [0x40, 0x80] {
            let bytes: [UInt8] = Self.header() + [type | 1, 0x61, 0] + Self.typeAClassIN
            #expect(throws: DNSParseError.badLabelType(offset: 12)) { try DNSMessage(parsing: bytes) }
        }
    }

    @Test func overlongNames() {
        // Five 63-byte labels: 321 bytes.
        let labels: [UInt8] = (0..<5).flatMap { _ in [63] + [UInt8](repeating: 0x61, count: 63) }
        let bytes: [UInt8] = Self.header() + labels + [0] + Self.typeAClassIN
        #expect(throws: DNSParseError.nameTooLong(offset: 12)) { try DNSMessage(parsing: bytes) }
        // Through compression: 4 x 63 in the question, the answer adds one more label in front.
        let question: [UInt8] = (0..<3).flatMap { _ in [63] + [UInt8](repeating: 0x62, count: 63) } + [60] + [UInt8](repeating: 0x63, count: 60) + [0]
        let viaPointer: [UInt8] = Self.header(an: 1) + question + Self.typeAClassIN + [3, 0x61, 0x62, 0x63, 0xC0, 12]
            + Self.typeAClassIN + [0, 0, 0, 1, 0, 0]
        #expect(throws: DNSParseError.nameTooLong(offset: 12 + question.count + 4)) { try DNSMessage(parsing: viaPointer) }
    }

    @Test func countsLargerThanTheData() {
        #expect(throws: DNSParseError.countExceedsData(section: "question", count: 1000)) {
            try DNSMessage(parsing: Self.header(qd: 1000) + [1, 0x61, 0] + Self.typeAClassIN)
        }
        #expect(throws: DNSParseError.countExceedsData(section: "answer", count: 1)) {
            try DNSMessage(parsing: Self.header(an: 1) + [1, 0x61, 0] + Self.typeAClassIN)
        }
        #expect(throws: DNSParseError.countExceedsData(section: "additional", count: 0xFFFF)) {
            try DNSMessage(parsing: Self.header(qd: 0, ar: 0xFFFF) + [UInt8](repeating: 0, count: 100))
        }
    }

    @Test func recordDataThatDoesNotFitItsType() {
        let question: [UInt8] = [1, 0x61, 0] + Self.typeAClassIN
        let shortA: [UInt8] = Self.header(an: 1) + question + [0xC0, 12] + Self.typeAClassIN + [0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5]
        #expect(throws: DNSParseError.badRecordData(offset: 12 + 7 + 12, type: .a)) { try DNSMessage(parsing: shortA) }
        let aaaa: [UInt8] = Self.header(an: 1) + question + [0xC0, 12, 0, 28, 0, 1] + [0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: DNSParseError.badRecordData(offset: 31, type: .aaaa)) { try DNSMessage(parsing: aaaa) }
        // A CNAME whose name ends before its rdata does.
        let cname: [UInt8] = Self.header(an: 1) + question + [0xC0, 12, 0, 5, 0, 1] + [0, 0, 0, 1, 0, 4, 1, 0x62, 0, 0xFF]
        #expect(throws: DNSParseError.badRecordData(offset: 31, type: .cname)) { try DNSMessage(parsing: cname) }
        // An rdlength past the end.
        let long: [UInt8] = Self.header(an: 1) + question + [0xC0, 12, 0, 16, 0, 1] + [0, 0, 0, 1, 0x01, 0x00, 1, 2]
        #expect(throws: DNSParseError.truncated(offset: 29)) { try DNSMessage(parsing: long) }
    }

    @Test func trailingBytes() {
        let bytes: [UInt8] = Self.header() + [1, 0x61, 0] + Self.typeAClassIN + [0]
        #expect(throws: DNSParseError.trailingBytes(offset: 19)) { try DNSMessage(parsing: bytes) }
    }

    @Test func everyTruncationOfAValidMessageIsRejected() throws {
        let bytes: [UInt8] = try DNSMessageTests.sampleResponse().encoded()
        for length in 0..<bytes.count {
            #expect(throws: DNSParseError.self, "prefix of \(length) bytes") { try DNSMessage(parsing: Array(bytes.prefix(length))) }
        }
        #expect(try DNSMessage(parsing: bytes) == DNSMessageTests.sampleResponse())
    }

    @Test func errorsNameTheirPlace() {
        #expect(DNSParseError.pointerNotBackwards(offset: 30, target: 40).description.contains("byte 30"))
        #expect(DNSParseError.countExceedsData(section: "answer", count: 9).description == "answer count 9 exceeds the message's data")
    }
}
