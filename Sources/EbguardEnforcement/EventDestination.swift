import Glibc

/// Where a network operation went, as the kernel saw it: bytes, not text. Every text form
/// (`1.2.3.4:80`, a `cidr:` of an overlay rule, an audit record's address) is rendered from it.
public struct EventDestination: Sendable, Equatable, Hashable {
    public let family: UInt8
    public let protocolNumber: UInt8
    public let port: UInt16
    /// The 16 address bytes in memory order, held inline: every denied connect decodes one, and
    /// an array would be one more allocation per event.
    private let bytes: (UInt64, UInt64)

    /// 16 bytes (shorter input is zero-filled, longer cut); IPv4 in the first 4.
    public init(family: UInt8, protocolNumber: UInt8, port: UInt16, address: [UInt8]) {
        self.family = family
        self.protocolNumber = protocolNumber
        self.port = port
        var bytes: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &bytes) { $0.copyBytes(from: address.prefix(16)) }
        self.bytes = bytes
    }

    /// 16 bytes; IPv4 in the first 4.
    public var address: [UInt8] { withUnsafeBytes(of: bytes) { Array($0) } }

    public static func == (a: EventDestination, b: EventDestination) -> Bool {
        a.family == b.family && a.protocolNumber == b.protocolNumber && a.port == b.port
            && a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(protocolNumber)
        hasher.combine(port)
        hasher.combine(bytes.0)
        hasher.combine(bytes.1)
    }

    public var isIPv6: Bool { Int32(family) == AF_INET6 }

    /// `tcp`, `udp`, `icmp` or `protocol N`: what events write as the connect's detail.
    public var transport: String {
        switch protocolNumber {
        case 17: "udp"
        case 1, 58: "icmp"
        case 6: "tcp"
        default: "protocol \(protocolNumber)"
        }
    }

    /// `1.2.3.4` or `2001:db8::1` (RFC 5952).
    public var addressText: String {
        var text: [UInt8] = []
        text.reserveCapacity(40)
        appendAddress(into: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// `1.2.3.4:80` or `[2001:db8::1]:443`: every denied connect is rendered, so by hand into
    /// bytes (`String(_:radix:)` per part cost more than the rest of the decoding).
    public var endpointText: String {
        var text: [UInt8] = []
        text.reserveCapacity(48)
        appendEndpoint(into: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// `1.2.3.4:80/tcp`, the audit trail's object for a destination, in one buffer: joining
    /// the parts as strings cost a third of mapping a denial to its record.
    public var endpointAndTransportText: String {
        var text: [UInt8] = []
        text.reserveCapacity(64)
        appendEndpoint(into: &text)
        text.append(UInt8(ascii: "/"))
        text.append(contentsOf: transport.utf8)
        return String(decoding: text, as: UTF8.self)
    }

    private func appendEndpoint(into text: inout [UInt8]) {
        if isIPv6 { text.append(UInt8(ascii: "[")) }
        appendAddress(into: &text)
        if isIPv6 { text.append(UInt8(ascii: "]")) }
        text.append(UInt8(ascii: ":"))
        Self.appendDecimal(UInt32(port), into: &text)
    }

    private func appendAddress(into text: inout [UInt8]) {
        withUnsafeBytes(of: bytes) { bytes in
            if isIPv6 {
                Self.appendIPv6(bytes, into: &text)
            } else {
                for octet in 0..<4 {
                    if octet > 0 { text.append(UInt8(ascii: ".")) }
                    Self.appendDecimal(UInt32(bytes[octet]), into: &text)
                }
            }
        }
    }

    private static func appendDecimal(_ value: UInt32, into text: inout [UInt8]) {
        // At most 5 digits (a port), written backwards into a fixed buffer, then appended at once.
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var value = value
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            text.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// An IPv6 address in RFC 5952's canonical text: lowercase hex without leading zeros, the
    /// longest run of two or more zero groups (the first of equal runs) as `::`, and an
    /// IPv4-mapped address as `::ffff:1.2.3.4` (§5). One spelling per address, so that a SIEM
    /// matching `[::1]:9` finds it.
    static func appendIPv6(_ bytes: UnsafeRawBufferPointer, into text: inout [UInt8]) {
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<8 { groups[i] = UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1]) }
        func hex(_ value: UInt16) {
            if value >= 16 { hex(value / 16) }
            let digit = UInt8(value % 16)
            text.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
        }
        func decimal(_ value: UInt8) {
            if value >= 10 { decimal(value / 10) }
            text.append(UInt8(ascii: "0") + value % 10)
        }
        if groups[0..<5].allSatisfy({ $0 == 0 }), groups[5] == 0xffff {
            text.append(contentsOf: "::ffff:".utf8)
            for octet in 12..<16 {
                if octet > 12 { text.append(UInt8(ascii: ".")) }
                decimal(bytes[octet])
            }
            return
        }
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard groups[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8, groups[j] == 0 { j += 1 }
            if j - i > best.length { best = (i, j - i) }
            i = j
        }
        if best.length < 2 { best = (-1, 0) }
        var group = 0
        while group < 8 {
            if group == best.start {
                text.append(contentsOf: "::".utf8)
                group += best.length
                continue
            }
            if group > 0, group != best.start + best.length || best.start < 0 { text.append(UInt8(ascii: ":")) }
            hex(groups[group])
            group += 1
        }
    }

}
