/// An IPv4 or IPv6 address as bytes in network order.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become IPv4: a dual-stack socket connecting to
/// `::ffff:10.0.0.1` reaches 10.0.0.1, so IPv4 rules must decide it.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    /// Wraps 4 or 16 bytes; 16 bytes of a mapped address are reduced to the IPv4 address.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.bytes = bytes
        case 16:
            self.bytes = Self.isMapped(bytes) ? Array(bytes[12...]) : bytes
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 (no leading zeros) or IPv6 text (with `::` and a trailing dotted
    /// quad; no zone). Returns nil for anything else.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let b = Self.parseIPv6(Substring(text)) else { return nil }
            self.init(bytes: b)
        } else {
            guard let b = Self.parseIPv4(Substring(text)) else { return nil }
            self.init(bytes: b)
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// Bits in an address of this family: 32 or 128.
    public var bitWidth: Int { bytes.count * 8 }

    static let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff]

    static func isMapped(_ bytes: [UInt8]) -> Bool {
        bytes.count == 16 && Array(bytes[..<12]) == mappedPrefix
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            // A leading zero reads as octal to inet_aton; refuse the ambiguity.
            if part.count > 1 && part.hasPrefix("0") { return nil }
            guard let v = UInt8(part) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        var head: [UInt16] = [], tail: [UInt16] = []
        let halves = text.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        let sawGap = halves.count == 2
        func groups(_ s: Substring, allowIPv4: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if i == parts.count - 1, allowIPv4, part.contains(".") {
                    guard let v4 = parseIPv4(part) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit), let v = UInt16(part, radix: 16) else {
                    return nil
                }
                out.append(v)
            }
            return out
        }
        if sawGap {
            guard let h = groups(halves[0], allowIPv4: false), let t = groups(halves[1], allowIPv4: true) else { return nil }
            head = h
            tail = t
            // `::` stands for at least one zero group.
            guard head.count + tail.count <= 7 else { return nil }
        } else {
            guard let h = groups(halves[0], allowIPv4: true), h.count == 8 else { return nil }
            head = h
        }
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        let left = hex[..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLen)...].joined(separator: ":")
        return left + "::" + right
    }
}

extension Substring {
    /// Splits at `::`; a third piece means the text had two gaps.
    fileprivate func components(separatedByDoubleColon: Void) -> [Substring] {
        var pieces: [Substring] = []
        var start = startIndex, i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == ":" && next < endIndex && self[next] == ":" {
                pieces.append(self[start..<i])
                start = index(after: next)
                i = start
            } else {
                i = next
            }
        }
        pieces.append(self[start...])
        return pieces
    }
}
