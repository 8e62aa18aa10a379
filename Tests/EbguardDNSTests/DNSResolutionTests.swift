@testable import EbguardDNS
import Foundation
import Testing

@Suite struct DNSResolutionTests {
    static func answer(_ records: [DNSRecord], for name: String, code: DNSResponseCode = .noError) throws -> DNSMessage {
        var header = DNSHeader(id: 1)
        header.isResponse = true
        header.responseCode = code
        return DNSMessage(header: header, questions: [DNSQuestion(name: try DNSName(name), type: .a)], answers: records)
    }

    static func a(_ owner: String, _ address: String, ttl: UInt32 = 60) throws -> DNSRecord {
        let ip = DNSIPAddress(address)!
        return DNSRecord(name: try DNSName(owner), type: ip.isIPv6 ? .aaaa : .a, ttl: ttl, data: .address(ip))
    }

    static func cname(_ owner: String, _ target: String) throws -> DNSRecord {
        DNSRecord(name: try DNSName(owner), type: .cname, ttl: 300, data: .name(try DNSName(target)))
    }

    @Test func followsTheChainAndKeepsOnlyItsAddresses() throws {
        // Records out of order, plus an address for a name off the chain.
        let message = try Self.answer([
            Self.a("edge.cdn.net", "192.0.2.10", ttl: 20),
            Self.cname("mid.example.org", "edge.cdn.net"),
            Self.a("unrelated.evil", "203.0.113.66"),
            Self.cname("www.example.com", "mid.example.org"),
            Self.a("edge.cdn.net", "2001:db8::10", ttl: 25),
        ], for: "www.example.com")
        let resolution = DNSResolution(answer: message, for: try DNSName("WWW.example.com"))
        #expect(resolution.chain.map(\.text) == ["www.example.com", "mid.example.org", "edge.cdn.net"])
        #expect(resolution.chainText == "www.example.com -> mid.example.org -> edge.cdn.net")
        #expect(resolution.addresses.map(\.description) == ["192.0.2.10 ttl 20", "2001:db8::10 ttl 25"])
        #expect(resolution.addresses.allSatisfy { $0.owner.text == "edge.cdn.net" })
        #expect(resolution.responseCode == .noError && !resolution.truncated)
    }

    @Test func directAnswerWithoutChain() throws {
        let message = try Self.answer([Self.a("api.github.com", "140.82.112.5", ttl: 0x8000_0001)], for: "api.github.com")
        let resolution = DNSResolution(answer: message, for: try DNSName("api.github.com"))
        #expect(resolution.chain.map(\.text) == ["api.github.com"])
        // RFC 2181 §8: a TTL with the top bit set is 0.
        #expect(resolution.addresses.map(\.ttl) == [0])
    }

    @Test func cnameLoopsAndLongChainsEnd() throws {
        let loop = try Self.answer([Self.cname("a.test", "b.test"), Self.cname("b.test", "a.test"), Self.a("b.test", "192.0.2.1")], for: "a.test")
        let resolution = DNSResolution(answer: loop, for: try DNSName("a.test"))
        #expect(resolution.chain.map(\.text) == ["a.test", "b.test"])
        #expect(resolution.addresses.count == 1)

        let links = try (0..<40).map { try Self.cname("n\($0).test", "n\($0 + 1).test") } + [Self.a("n40.test", "192.0.2.2")]
        let long = DNSResolution(answer: try Self.answer(links, for: "n0.test"), for: try DNSName("n0.test"))
        #expect(long.chain.count == DNSResolution.maxChainLength)
        #expect(long.addresses.isEmpty)
    }

    @Test func otherSectionsAndClassesOpenNothing() throws {
        var message = try Self.answer([], for: "x.test", code: .nameError)
        message.additionals = [try Self.a("x.test", "192.0.2.9")]
        var chaos = try Self.a("x.test", "192.0.2.8")
        chaos.recordClass = .chaos
        chaos.data = .opaque([192, 0, 2, 8])
        message.answers = [chaos]
        let resolution = DNSResolution(answer: message, for: try DNSName("x.test"))
        #expect(resolution.addresses.isEmpty)
        #expect(resolution.responseCode == .nameError)
    }
}

@Suite struct DNSUpstreamTests {
    @Test func parsesAddressesAndPorts() throws {
        #expect(try DNSUpstream(parsing: "192.0.2.53").description == "192.0.2.53:53")
        #expect(try DNSUpstream(parsing: " 127.0.0.53:5353 ").port == 5353)
        #expect(try DNSUpstream(parsing: "[::1]:5300").description == "[::1]:5300")
        #expect(try DNSUpstream(parsing: "[2001:db8::53]").port == 53)
        #expect(try DNSUpstream(parsing: "2001:db8::53").address.isIPv6)
    }

    @Test func rejectsWithReasons() {
        let cases: [(String, String)] = [
            ("", "empty address"), ("[::1", "missing ']'"), ("[192.0.2.1]:53", "not an IPv6 address"),
            ("[::1]53", "expected ':PORT'"), ("resolver.example:53", "not an IPv4 address"),
            ("192.0.2.1:0", "is not a port"), ("192.0.2.1:70000", "is not a port"), ("dns", "not an IP address"),
            ("2001:db8::zz", "written [ADDR]:PORT"),
        ]
        for (text, reason) in cases {
            do {
                _ = try DNSUpstream(parsing: text)
                Issue.record("'\(text)' was accepted")
            } catch {
                #expect("\(error)".contains(reason), "'\(text)': \(error)")
                #expect("\(error)".contains("'\(text)'"))
            }
        }
    }

    @Test func readsTheFirstNameserverOfResolvConf() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("resolv-\(UUID()).conf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# nameserver 192.0.2.99\n; nameserver 192.0.2.98\nsearch example.com\noptions edns0 trust-ad\nnameserver 127.0.0.53 # resolved\nnameserver 192.0.2.1\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try DNSUpstream.fromResolvConf(path: path) == DNSUpstream(address: DNSIPAddress("127.0.0.53")!))

        try "search x\n\tnameserver\tfe80::1%eth0\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DNSUpstreamError.badLine(path, 2, "scoped IPv6 nameserver 'fe80::1%eth0' is not supported")) {
            try DNSUpstream.fromResolvConf(path: path)
        }
        try "nameserver dns.example\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DNSUpstreamError.badLine(path, 1, "'dns.example' is not an IP address")) { try DNSUpstream.fromResolvConf(path: path) }
        try "search example.com\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DNSUpstreamError.noNameserver(path)) { try DNSUpstream.fromResolvConf(path: path) }
        #expect(throws: DNSUpstreamError.self) { try DNSUpstream.fromResolvConf(path: path + ".missing") }
    }
}

@Suite struct DNSTunnelHeuristicsTests {
    @Test func ordinaryNamesAreNotFlagged() {
        let names = [("files.pythonhosted.org", "pythonhosted.org"), ("objects.githubusercontent.com", "githubusercontent.com"),
                     ("registry-1.docker.io", "docker.io"), ("d3c33hcgiwev3.cloudfront.net", "cloudfront.net"),
                     ("release-assets.githubusercontent.com", "githubusercontent.com"),
                     ("storage.googleapis.com", "googleapis.com"), ("proxy.golang.org", "golang.org"),
                     ("repo.maven.apache.org", "apache.org"), ("static.crates.io", "crates.io")]
        for (name, suffix) in names {
            #expect(DNSTunnelHeuristics.flags(name: name, under: suffix).isEmpty, "\(name)")
        }
    }

    @Test func encodedLabelsAreFlagged() {
        // base32 of data, as iodine/dnscat2 send it.
        let base32 = "mzxw6ytboi2gk3tpnbswy3dpfqqho33snrsa"
        let flags32 = DNSTunnelHeuristics.flags(name: "\(base32).t.example.com", under: "example.com")
        #expect(flags32.count == 1 && flags32[0].contains("looks encoded"), "\(flags32)")
        // Hex of a hash.
        let hex = "9f86d081884c7d659a2feaa0c55ad015"
        #expect(DNSTunnelHeuristics.entropy(of: hex) >= DNSTunnelHeuristics.entropyThreshold)
        #expect(!DNSTunnelHeuristics.flags(name: "\(hex).example.com", under: "example.com").isEmpty)
        // A long label, even of one letter, and a long name made of short labels.
        let long = String(repeating: "a", count: 50)
        #expect(DNSTunnelHeuristics.flags(name: "\(long).example.com", under: "example.com") == ["label '\(long)' is 50 characters long (over 40)"])
        let many = (0..<30).map { "ab\($0)" }.joined(separator: ".") + ".example.com"
        #expect(DNSTunnelHeuristics.flags(name: many, under: "example.com").first?.contains("over 100") == true)
    }

    @Test func theSuffixIsNotJudged() {
        let suffix = "x9f86d081884c7d659a2feaa0c55ad015.example"
        #expect(DNSTunnelHeuristics.flags(name: "www.\(suffix)", under: suffix).isEmpty)
        #expect(DNSTunnelHeuristics.entropy(of: "aaaa") == 0)
        #expect(abs(DNSTunnelHeuristics.entropy(of: "abcd") - 2) < 1e-9)
    }
}
