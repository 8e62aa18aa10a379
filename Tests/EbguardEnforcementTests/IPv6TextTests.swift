import Glibc
import Testing
@testable import EbguardEnforcement

/// Network destinations are written in RFC 5952's one canonical IPv6 spelling (`[::1]:9`, not
/// `[0:0:0:0:0:0:0:1]:9`): the audit trail's objects and OCSF `dst_endpoint.ip` use it.
@Suite("IPv6 text (RFC 5952)")
struct IPv6TextTests {
    func text(_ groups: [UInt16]) -> String {
        let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
        var out: [UInt8] = []
        bytes.withUnsafeBytes { EventDestination.appendIPv6($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func theCanonicalForms() {
        #expect(text([0, 0, 0, 0, 0, 0, 0, 1]) == "::1")
        #expect(text([0, 0, 0, 0, 0, 0, 0, 0]) == "::")
        #expect(text([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]) == "2001:db8::1")
        #expect(text([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]) == "2001:db8:0:1:1:1:1:1", "one zero group is not shortened (§4.2.2)")
        #expect(text([0x2001, 0, 0, 1, 0, 0, 0, 1]) == "2001:0:0:1::1", "the longest run (§4.2.3)")
        #expect(text([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]) == "2001:db8::1:0:0:1", "the first of equal runs (§4.2.3)")
        #expect(text([0xfe80, 0, 0, 0, 0xa, 0xBCDE, 0, 0]) == "fe80::a:bcde:0:0", "lowercase (§4.3)")
        #expect(text([1, 0, 0, 0, 0, 0, 0, 0]) == "1::")
        #expect(text([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]) == "::ffff:1.2.3.4", "IPv4-mapped (§5)")
    }

    /// Agrees with glibc's inet_ntop, which follows RFC 5952, on random addresses with runs of zeros.
    @Test func agreesWithInetNtop() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let groups = (0..<8).map { _ in Bool.random(using: &generator) ? 0 : UInt16.random(in: 0...0xffff, using: &generator) }
            if groups[0..<6].allSatisfy({ $0 == 0 }) || (groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xffff) { continue }
            var address = in6_addr()
            let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
            #expect(text(groups) == String(cString: buffer), "\(groups)")
        }
    }
}
