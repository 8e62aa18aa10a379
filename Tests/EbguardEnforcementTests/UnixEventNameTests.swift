import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import Glibc
import Testing

/// How an EG_EVENT_UNIX record's name decodes: exactly unix_len bytes of unix_path (the kernel
/// copies a name that fills sun_path whole, with no NUL after it), an abstract name's NULs
/// shown as `@`. The same records in the kernel: UnixSocketTests, UnixFullNameVMTests.
@Suite struct UnixEventNameTests {
    /// A record as unix.bpf.o writes it: `bytes` in unix_path, the rest of the field `fill`.
    static func record(_ bytes: [UInt8], length: UInt32, fill: UInt8 = 0) -> DecisionEvent? {
        var event = eg_net_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_UNIX.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_net_event>.size), time_ns: 1)
        event.session_id = 3
        event.ret = -EPERM
        event.rule = 0
        event.verdict = UInt8(EG_VERDICT_DENY.rawValue)
        event.reason = UInt8(EG_REASON_RULE.rawValue)
        event.family = UInt8(AF_UNIX)
        withUnsafeMutableBytes(of: &event.unix_path) { raw in
            for i in raw.indices { raw[i] = fill }
            raw.copyBytes(from: bytes.prefix(raw.count))
        }
        event.unix_len = length
        return withUnsafeBytes(of: event) { DecisionEvent(record: $0) }
    }

    static func name(_ event: DecisionEvent?) -> String? {
        if case .unixPath(let name)? = event?.object { return name }
        return nil
    }

    /// `/tmp/…/x.sock` of exactly `count` bytes.
    static func path(_ count: Int) -> String {
        let head = "/tmp/eg-sockets/", tail = "x.sock"
        return head + String(repeating: "d", count: count - head.utf8.count - tail.utf8.count) + tail
    }

    @Test func aPathFillingSunPathKeepsAll108Bytes() throws {
        let full = Self.path(108)
        #expect(full.utf8.count == Int(EG_UNIX_PATH_MAX))
        let event = try #require(Self.record(Array(full.utf8), length: 108))
        #expect(Self.name(event) == full)
        #expect(event.objectText.utf8.count == 108)
        #expect(event.message(home: nil) == "denied connect \(full) (unix) by rule network[0]")
    }

    @Test func shorterPathsStopAtTheirLengthNotAtWhatFollows() {
        let short = Self.path(107)
        #expect(Self.name(Self.record(Array(short.utf8) + [0], length: 107)) == short)
        // Whatever the field holds past unix_len is not the name.
        #expect(Self.name(Self.record(Array("/x".utf8), length: 2, fill: UInt8(ascii: "j"))) == "/x")
    }

    /// Abstract names: the kernel writes '@' for the leading NUL; their length is the address's,
    /// so NULs inside or padding them to sizeof(struct sockaddr_un) are part of the name.
    @Test func abstractNamesKeepTheirLengthAndShowEachNulAsAt() {
        let longest = "@" + String(repeating: "a", count: 107)
        #expect(Self.name(Self.record(Array(longest.utf8), length: 108)) == longest)
        #expect(Self.name(Self.record(Array("@eg-short".utf8), length: 9)) == "@eg-short")
        let padded = Self.name(Self.record(Array("@eg-pad".utf8), length: 108))
        #expect(padded == "@eg-pad" + String(repeating: "@", count: 101))
        #expect(Self.name(Self.record(Array("@a".utf8) + [0] + Array("b".utf8), length: 4)) == "@a@b")
    }

    @Test func lengthsOutOfRangeAreBounded() {
        #expect(Self.name(Self.record(Array("/run/x".utf8), length: 0)) == "", "no name read: nothing shown")
        let full = Self.path(108)
        #expect(Self.name(Self.record(Array(full.utf8), length: 4096)) == full, "never past the field")
    }

    @Test func invalidUTF8IsRepairedNotTrusted() {
        #expect(Self.name(Self.record([UInt8(ascii: "/"), 0xff, UInt8(ascii: "a")], length: 3)) == "/\u{FFFD}a")
    }
}
