import Foundation
import Testing
@testable import EbguardAudit

@Suite("canonical JSON and records")
struct CanonicalJSONTests {
    @Test func keysSortedNoWhitespace() {
        let value: JSONValue = ["b": 1, "a": ["z": true, "y": .null], "c": ["x", -2]]
        #expect(value.canonicalString == #"{"a":{"y":null,"z":true},"b":1,"c":["x",-2]}"#)
    }

    @Test func stringEscapingIsMinimal() {
        let value: JSONValue = .string("a\"b\\c/d\n\t\u{01}é\u{2028}")
        #expect(value.canonicalString == "\"a\\\"b\\\\c/d\\n\\t\\u0001é\u{2028}\"")
    }

    @Test func bytesBuiltByHandMatchTheTextForms() {
        for value: Int64 in [0, 7, -1, 10, 99, 100, Int64.max, Int64.min] {
            var out: [UInt8] = []
            out.appendDecimal(value)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
        var out: [UInt8] = []
        out.appendDecimal(UInt64.max)
        out.appendRaw(",")
        out.appendJSONString("a\u{8}b\u{c}\u{1f}\"é/\\")
        #expect(String(decoding: out, as: UTF8.self) == "18446744073709551615,\"a\\bb\\f\\u001f\\\"é/\\\\\"")
    }

    /// The escaper skips eight bytes at a time: every byte that needs an escape, at every
    /// position of strings around and across word boundaries, next to multi-byte characters and
    /// bytes just outside the escaped set, must come out as a byte-by-byte escaper writes it.
    @Test func escapingFindsEverySpecialByteWhereverItFallsInAWord() {
        func reference(_ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
                case 0x08: out += Array("\\b".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0C: out += Array("\\f".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case ..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
                default: out.append(byte)
                }
            }
            return out + [UInt8(ascii: "\"")]
        }
        let fillers: [[UInt8]] = [Array("abcdefghijklmnopqrstuvw".utf8), Array("ééééééééééé€".utf8),
                                  [0x21, 0x23, 0x5B, 0x5D, 0x7F, 0x80, 0xFF, 0x20, 0x21, 0x5D, 0x23, 0x7F, 0x5B, 0x20, 0xC3, 0xA9, 0x21]]
        let specials: [UInt8] = [0x00, 0x01, 0x08, 0x0A, 0x1F, UInt8(ascii: "\""), UInt8(ascii: "\\")]
        var checked = 0
        var wrong: [[UInt8]] = []
        func check(_ bytes: [UInt8]) {
            var out: [UInt8] = []
            bytes.withUnsafeBufferPointer { out.appendJSONString(utf8: $0) }
            if out != reference(bytes) { wrong.append(bytes) }
            checked += 1
        }
        for filler in fillers {
            for length in 0...filler.count {
                let plain = Array(filler.prefix(length))
                check(plain)
                for position in 0..<length {
                    for special in specials {
                        var bytes = plain
                        bytes[position] = special
                        check(bytes)
                    }
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(3))")
        #expect(checked > 1000)
    }

    @Test func parseThenSerializeIsIdentityForCanonicalText() throws {
        let text = #"{"a":[1,2,{"k":"v\u0007"}],"b":false,"n":-9223372036854775808}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value.canonicalString == text)
        // Escapes that canonical form does not use are read, then written canonically.
        let loose = try JSONValue.parse(Array(#" { "b" : "\/\u00e9" , "a" : 1 } "#.utf8))
        #expect(loose.canonicalString == #"{"a":1,"b":"/é"}"#)
    }

    @Test func parserRejectsWhatJSONForbids() {
        for bad in ["{", "[1,]", "{\"a\":1,\"a\":2}", "01", "\"\u{01}\"", "tru", "{} x", "\"\\ud800\""] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }

    @Test func sha256MatchesTheKnownVector() {
        #expect(AuditHash.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(AuditHash.genesis.count == 64)
    }

    @Test func recordLineIsCanonicalAndRoundTrips() throws {
        let time = AuditTime(rfc3339: "2026-05-04T09:12:33.482113Z")!
        let r = AuditRecord(seq: 7, time: time, host: testHost, prev: AuditHash.genesis,
                            event: .sessionStart(AuditSession(session: "s-1", policy: "agent", policySHA256: "ab")))
        let line = String(decoding: r.line, as: UTF8.self)
        #expect(line == #"{"data":{"policy":"agent","policy_sha256":"ab","session":"s-1"},"host":{"machine_id":"0123456789abcdef0123456789abcdef","name":"test-host"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":7,"time":"2026-05-04T09:12:33.482113Z","type":"session_start","v":1}"#)
        let back = try AuditRecord(line: r.line, requireCanonical: true)
        #expect(back == r)
        #expect(back.event == .sessionStart(AuditSession(session: "s-1", policy: "agent", policySHA256: "ab")))
    }

    @Test(arguments: [
        AuditEvent.decision(AuditDecision(session: "s", pid: 1, comm: "c", kind: .unix, object: "/run/x.sock",
                                          access: "connect", rule: "unix.deny[0]", verdict: .deny)),
        .askAnswer(AuditAskAnswer(session: "s", askID: 9, kind: .network, object: "1.1.1.1:53/udp", answer: .allow,
                                  scope: .session, answeredBy: "alice")),
        .sessionStop(AuditSession(session: "s", policy: "p", policySHA256: "00", exitStatus: 3)),
        .policyChange(AuditPolicyChange(policy: "p", oldSHA256: "01", newSHA256: "02", changedBy: "root")),
        .daemonStart(AuditDaemon(version: "0.1.0", pid: 42)),
        .daemonStop(AuditDaemon(version: "0.1.0", pid: 42, reason: "SIGTERM")),
        .lostEvents(AuditLostEvents(source: "ringbuf", count: 17)),
        .recovery(AuditRecovery(file: "/x", line: 3, tornBytes: 10, tornSHA256: "ff")),
    ])
    func everyEventTypeRoundTrips(_ event: AuditEvent) throws {
        let r = AuditRecord(seq: 1, time: .now(), host: testHost, prev: AuditHash.genesis, event: event)
        let back = try AuditRecord(line: r.line, requireCanonical: true)
        #expect(back.event == event)
        #expect(back.type == event.typeName)
    }

    @Test func timeFormatsAndParses() {
        let t = AuditTime(rfc3339: "2026-05-04T09:12:33.4821139Z")!
        #expect(t.rfc3339 == "2026-05-04T09:12:33.482113Z")
        #expect(AuditTime(rfc3339: "2026-05-04T11:12:33.482113+02:00") == AuditTime(rfc3339: "2026-05-04T09:12:33.482113Z"))
        #expect(AuditTime(rfc3339: "2026-05-04")!.rfc3339 == "2026-05-04T00:00:00.000000Z")
        #expect(AuditTime(rfc3339: "1969-12-31T23:59:59.5Z")!.rfc3339 == "1969-12-31T23:59:59.500000Z")
        #expect(AuditTime(rfc3339: "2026-13-01T00:00:00Z") == nil)
        #expect(AuditTime(rfc3339: "yesterday") == nil)
        let now = AuditTime.now()
        #expect(AuditExport.parseSince("2h", now: now)!.nanoseconds == now.nanoseconds - 7200 * 1_000_000_000)
    }
}
