import CEbguardABI
import EbguardBPF
@testable import EbguardEnforcement
import Glibc
import Testing

/// The userspace half of interactive decisions that needs no kernel: device numbers, keys,
/// and how answered decisions read in events.
@Suite struct AnswersTests {
    /// glibc's makedev(3), as stat(2) reports st_dev.
    func glibcDevice(major: UInt64, minor: UInt64) -> UInt64 {
        ((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12)
    }

    @Test func statDeviceBecomesTheKernelsEncoding() {
        #expect(Answers.kernelDevice(fromStat: glibcDevice(major: 8, minor: 1)) == 8 << 20 | 1)
        #expect(Answers.kernelDevice(fromStat: glibcDevice(major: 0, minor: 27)) == 27)  // tmpfs, anonymous
        #expect(Answers.kernelDevice(fromStat: glibcDevice(major: 259, minor: 70_000)) == 259 << 20 | 70_000)
        #expect(Answers.kernelDevice(fromStat: glibcDevice(major: 4095, minor: 0xfffff)) == 4095 << 20 | 0xfffff)
    }

    @Test func networkKeysCarryV4InTheFirstFourBytes() {
        let key = Answers.networkKey(sessionID: 9, family: AF_INET, protocol: 6, port: 443, address: [10, 1, 2, 3])
        #expect(key.session_id == 9 && key.family == UInt8(AF_INET) && key.protocol == 6 && key.port == 443)
        #expect(withUnsafeBytes(of: key.addr) { Array($0) } == [10, 1, 2, 3] + Array(repeating: 0, count: 12))
        let answer = Answers.answer(.deny, once: true, expires: 5)
        #expect((answer.verdict, answer.once, answer.expires_ns) == (UInt8(EG_VERDICT_DENY.rawValue), 1, 5))
        #expect(Answers.answer(.allow, once: false, expires: nil).expires_ns == 0)
    }

    func fileEvent(ret: Int32, verdict: eg_verdict, reason: eg_reason) -> eg_path_event {
        var event = eg_path_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_FILE.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_path_event>.size), time_ns: 1)
        event.session_id = 3
        event.access = 1 << EG_ACCESS_READ.rawValue
        event.ret = ret
        event.rule = 2
        event.verdict = UInt8(verdict.rawValue)
        event.reason = UInt8(reason.rawValue)
        let path = Array("/home/u/notes".utf8) + [0]
        withUnsafeMutableBytes(of: &event.path) { $0.copyBytes(from: path) }
        event.path_len = UInt32(path.count)
        event.device = 8 << 20 | 1
        event.inode = 123_456
        return event
    }

    @Test func answeredEventsSayTheOperatorDecided() throws {
        let approved = try #require(withUnsafeBytes(of: fileEvent(ret: 0, verdict: EG_VERDICT_ALLOW, reason: EG_REASON_ANSWERED)) {
            DecisionEvent(record: $0)
        })
        #expect(approved.device == 8 << 20 | 1 && approved.inode == 123_456)
        #expect(approved.reason == .answered)
        #expect(approved.line(home: "/home/u") == "ebguard: allowed open ~/notes (read) (approved by the operator)")
        #expect(approved.line(home: "/home/u/no") == "ebguard: allowed open /home/u/notes (read) (approved by the operator)",
                "a home that is a prefix of a name, not of a directory, is not shortened")
        #expect(approved.line(home: "/home/u/notes") == "ebguard: allowed open /home/u/notes (read) (approved by the operator)")

        let blocked = try #require(withUnsafeBytes(of: fileEvent(ret: -EACCES, verdict: EG_VERDICT_DENY, reason: EG_REASON_ANSWERED)) {
            DecisionEvent(record: $0)
        })
        #expect(blocked.line(home: nil) == "ebguard: denied open /home/u/notes (read) (blocked by the operator)")

        let asked = try #require(withUnsafeBytes(of: fileEvent(ret: -EACCES, verdict: EG_VERDICT_ASK, reason: EG_REASON_RULE)) {
            DecisionEvent(record: $0)
        })
        #expect(asked.line(home: nil) == "ebguard: denied (ask, no one to answer yet) open /home/u/notes (read) by rule file[2]")
        #expect(asked.inode == 123_456, "an ask carries the object the answer must be keyed on")
    }

    func networkEvent(family: Int32, address: [UInt8], port: UInt16) -> eg_net_event {
        var event = eg_net_event()
        event.hdr = eg_event_header(type: UInt16(EG_EVENT_NET.rawValue), version: UInt16(EG_ABI_VERSION),
                                    size: UInt32(MemoryLayout<eg_net_event>.size), time_ns: 1)
        event.family = UInt8(family)
        event.protocol = 6
        event.port = port
        event.verdict = UInt8(EG_VERDICT_DENY.rawValue)
        event.ret = -EPERM
        withUnsafeMutableBytes(of: &event.addr) { $0.copyBytes(from: address) }
        return event
    }

    @Test func destinationsReadAsAddressAndPort() throws {
        let cases: [(Int32, [UInt8], UInt16, String)] = [
            (AF_INET, [127, 0, 0, 3], 80, "127.0.0.3:80"),
            (AF_INET, [255, 255, 255, 255], 65535, "255.255.255.255:65535"),
            (AF_INET, [0, 0, 0, 0], 0, "0.0.0.0:0"),
            // RFC 5952: the canonical, shortest text (IPv6TextTests has the rules).
            (AF_INET6, [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1], 443, "[2001:db8::1]:443"),
            (AF_INET6, [0xfe, 0x80] + Array(repeating: 0, count: 12) + [0xab, 0xcd], 53, "[fe80::abcd]:53"),
            (AF_INET6, Array(repeating: 0, count: 15) + [1], 9, "[::1]:9"),
        ]
        for (family, address, port, text) in cases {
            let decision = try #require(withUnsafeBytes(of: networkEvent(family: family, address: address, port: port)) {
                DecisionEvent(record: $0)
            })
            #expect(decision.objectText == text)
        }
    }
}
