@testable import EbguardDNS
import Testing

@Suite struct DNSMessageTests {
    static func sampleResponse() throws -> DNSMessage {
        var header = DNSHeader(id: 0xBEEF)
        header.isResponse = true
        header.recursionDesired = true
        header.recursionAvailable = true
        let name = try DNSName("WWW.Example.com")
        let cdn = try DNSName("edge.cdn.example.net")
        return DNSMessage(
            header: header,
            questions: [DNSQuestion(name: name, type: .a)],
            answers: [
                DNSRecord(name: name, type: .cname, ttl: 300, data: .name(cdn)),
                DNSRecord(name: cdn, type: .a, ttl: 60, data: .address(DNSIPAddress("192.0.2.7")!)),
                DNSRecord(name: cdn, type: .aaaa, ttl: 60, data: .address(DNSIPAddress("2001:db8::7")!)),
                DNSRecord(name: cdn, type: .txt, ttl: 5, data: .opaque([5] + Array("hello".utf8))),
                DNSRecord(name: cdn, type: DNSType(rawValue: 65_280), ttl: 5, data: .opaque([1, 2, 3])),
            ],
            authorities: [DNSRecord(name: try DNSName("example.net"), type: .ns, ttl: 3600, data: .name(try DNSName("ns1.example.net")))],
            additionals: [DNSRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: 1232), ttl: 0x8000, data: .opaque([]))])
    }

    @Test func queryRoundTrips() throws {
        let query = DNSMessage.query(id: 7, name: try DNSName("api.github.com"), type: .aaaa)
        let bytes = try query.encoded()
        #expect(bytes.count == 12 + 16 + 4)
        #expect(Array(bytes[0..<6]) == [0, 7, 0x01, 0x00, 0, 1])
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed == query)
        #expect(parsed.header.recursionDesired && !parsed.header.isResponse)
        #expect(parsed.questions[0].name.text == "api.github.com")
        #expect(parsed.questions[0].type == .aaaa)
    }

    @Test func responseRoundTripsWithCompression() throws {
        let message = try Self.sampleResponse()
        let bytes = try message.encoded()
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed == message)
        // Every repeated name after the first occurrence is a two-byte pointer.
        var uncompressed = 12
        for question in message.questions { uncompressed += question.name.wireLength + 4 }
        for record in message.answers + message.authorities + message.additionals {
            uncompressed += record.name.wireLength + 10
            switch record.data {
            case .address(let a): uncompressed += a.bytes.count
            case .name(let n): uncompressed += n.wireLength
            case .opaque(let o): uncompressed += o.count
            }
        }
        #expect(bytes.count < uncompressed - 60)
        #expect(bytes.contains(0xC0))
        // The letter case the client used survives (0x20 clients check the echo).
        #expect(parsed.questions[0].name.labels[0] == Array("WWW".utf8))
        #expect(parsed.opt?.recordClass.rawValue == 1232)
    }

    @Test func namesAreCanonicalAndUnambiguous() throws {
        #expect(try DNSName("API.GitHub.com.").text == "api.github.com")
        #expect(try DNSName("API.GitHub.com.") == DNSName("api.github.com"))
        #expect(DNSName.root.text == "" && DNSName.root.description == ".")
        // A dot inside a label must not read as a label boundary.
        let dotted = try DNSName(labels: [Array("api.github".utf8), Array("com".utf8)])
        #expect(dotted.text == "api\\046github.com")
        #expect(dotted != (try DNSName("api.github.com")))
        let odd = try DNSName(labels: [[0x2A], [0x00, 0x41, 0x20, 0xFF], Array("x".utf8)])
        #expect(odd.text == "\\042.\\000a\\032\\255.x")
        #expect(try DNSName("_sip._tcp.example-1.org").text == "_sip._tcp.example-1.org")
    }

    @Test func nameLimits() throws {
        let label63 = String(repeating: "a", count: 63)
        #expect(try DNSName("\(label63).com").labels[0].count == 63)
        #expect(throws: DNSNameError.labelTooLong(64)) { try DNSName(String(repeating: "b", count: 64) + ".com") }
        #expect(throws: DNSNameError.emptyLabel) { try DNSName("a..com") }
        // 3 x 64 + 1 + 62 + 1 = 255 bytes: the longest legal name; one more byte is too long.
        let longest = [label63, label63, label63, String(repeating: "c", count: 61)].joined(separator: ".")
        #expect(try DNSName(longest).wireLength == 255)
        #expect(throws: DNSNameError.nameTooLong(256)) { try DNSName(longest + "c") }
    }

    @Test func repliesCopyIdQuestionAndRD() throws {
        var query = DNSMessage.query(id: 0x4242, name: try DNSName("denied.example"), type: .txt)
        query.header.checkingDisabled = true
        for (reply, code) in [(DNSMessage.nxdomain(for: query), DNSResponseCode.nameError),
                              (DNSMessage.refused(for: query), .refused), (DNSMessage.serverFailure(for: query), .serverFailure)] {
            let parsed = try DNSMessage(parsing: try reply.encoded())
            #expect(parsed.header.id == 0x4242)
            #expect(parsed.header.isResponse && parsed.header.recursionAvailable && parsed.header.recursionDesired)
            #expect(parsed.header.checkingDisabled)
            #expect(parsed.header.responseCode == code)
            #expect(parsed.questions == query.questions)
            #expect(parsed.answers.isEmpty && parsed.authorities.isEmpty && parsed.additionals.isEmpty)
        }
    }

    @Test func formatErrorOnlyForReadableQueryHeaders() throws {
        let garbage: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xFF]
        let reply = try #require(DNSMessage.formatErrorReply(toUnparsed: garbage))
        let parsed = try DNSMessage(parsing: reply)
        #expect(parsed.header.id == 0xABCD && parsed.header.isResponse && parsed.header.responseCode == .formatError)
        #expect(parsed.questions.isEmpty)
        #expect(DNSMessage.formatErrorReply(toUnparsed: Array(garbage.prefix(11))) == nil)
        var response = garbage
        response[2] |= 0x80
        #expect(DNSMessage.formatErrorReply(toUnparsed: response) == nil)
    }

    @Test func replacingIDTouchesOnlyTheID() throws {
        let bytes = try Self.sampleResponse().encoded()
        let rewritten = DNSMessage.replacingID(in: bytes, with: 0x0102)
        #expect(Array(rewritten[0..<2]) == [1, 2])
        #expect(rewritten[2...] == bytes[2...])
    }

    @Test func typeAndCodeNames() {
        #expect(DNSType.aaaa.description == "AAAA" && DNSType(rawValue: 65_280).description == "TYPE65280")
        #expect(DNSResponseCode.nameError.description == "NXDOMAIN")
        #expect(DNSClass.internet.description == "IN")
        #expect(DNSIPAddress("2001:DB8::1")?.description == "2001:db8::1")
        #expect(DNSIPAddress("192.0.2.300") == nil && DNSIPAddress(bytes: [1, 2, 3]) == nil)
    }
}
