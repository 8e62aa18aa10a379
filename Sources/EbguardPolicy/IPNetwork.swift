/// An address prefix (CIDR): a masked address and a prefix length.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address; bits past `prefixLength` are zero.
    public let address: IPAddress
    /// 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    /// Masks `address` to `prefixLength` bits; nil if the length is out of range for the family.
    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.bitWidth).contains(prefixLength) else { return nil }
        self.init(rawBytes: address.bytes, prefixLength: prefixLength)
    }

    /// Parses `a.b.c.d/n` or `ipv6/n`; a bare address is a single host (/32 or /128).
    public init(parsing text: String) throws(PolicyValueError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw PolicyValueError("invalid cidr '\(text)'") }
        let addressText = parts[0]
        if addressText.contains("%") {
            throw PolicyValueError("invalid address '\(addressText)' in cidr '\(text)' (zone ids are not supported)")
        }
        // Parse as raw bytes first: a mapped address must keep its IPv6 prefix length here.
        let raw: [UInt8]?
        if addressText.contains(":") {
            raw = IPAddress.parseIPv6(addressText)
        } else {
            raw = IPAddress.parseIPv4(addressText)
        }
        guard let raw else { throw PolicyValueError("invalid address '\(addressText)' in cidr '\(text)'") }
        let width = raw.count * 8
        var length = width
        if parts.count == 2 {
            let p = parts[1]
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p), n <= width,
                  !(p.count > 1 && p.hasPrefix("0"))
            else {
                let family = width == 32 ? "IPv4 allows 0-32" : "IPv6 allows 0-128"
                throw PolicyValueError("invalid prefix length '\(p)' in cidr '\(text)' (\(family))")
            }
            length = n
        }
        if IPAddress.isMapped(raw) && length >= 96 {
            self.init(rawBytes: Array(raw[12...]), prefixLength: length - 96)
        } else {
            self.init(rawBytes: raw, prefixLength: length)
        }
    }

    private init(rawBytes: [UInt8], prefixLength: Int) {
        let masked = Self.mask(rawBytes, prefixLength)
        // IPAddress(bytes:) folds a mapped value to IPv4, but a network wider than /96 has lost
        // part of the ::ffff prefix to the mask, so only /96 and narrower are ever folded.
        self.address = IPAddress(bytes: masked)!
        self.prefixLength = prefixLength
    }

    private static func mask(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { i, b in
            let bitsHere = max(0, min(8, length - i * 8))
            return bitsHere == 8 ? b : b & ~(0xff >> UInt8(bitsHere))
        }
    }

    /// Whether `address` lies in this network; families never mix.
    public func contains(_ other: IPAddress) -> Bool {
        guard other.bytes.count == address.bytes.count else { return false }
        return Self.mask(other.bytes, prefixLength) == address.bytes
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
