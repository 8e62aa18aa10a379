import Glibc

/// An IPv4 or IPv6 address: exactly 4 or 16 bytes in network order (the init enforces it).
public struct DNSIPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses dotted-quad or RFC 4291 text (`inet_pton`); no zone ids, no brackets.
    public init?(_ text: String) {
        if let v4 = Self.pton(AF_INET, text, count: 4) { bytes = v4 }
        else if let v6 = Self.pton(AF_INET6, text, count: 16) { bytes = v6 }
        else { return nil }
    }

    public var isIPv6: Bool { bytes.count == 16 }
    public var family: Int32 { isIPv6 ? AF_INET6 : AF_INET }

    public static let loopbackV4 = DNSIPAddress(bytes: [127, 0, 0, 1])!
    public static let loopbackV6 = DNSIPAddress(bytes: Array(repeating: 0, count: 15) + [1])!

    /// Canonical text (`inet_ntop`): `192.0.2.1`, `2001:db8::1`.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        guard ok != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func pton(_ family: Int32, _ text: String, count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return ok == 1 ? out : nil
    }
}

/// An address and port: a client of the resolver, or the upstream server.
public struct DNSEndpoint: Hashable, Sendable, CustomStringConvertible {
    public let address: DNSIPAddress
    public let port: UInt16

    public init(address: DNSIPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `192.0.2.1:53` or `[2001:db8::1]:53`.
    public var description: String { address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)" }

    /// Calls `body` with this endpoint as a `sockaddr_in` / `sockaddr_in6`.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var storage = sockaddr_storage()
        let length: socklen_t = withUnsafeMutableBytes(of: &storage) { raw in
            if address.isIPv6 {
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address.bytes) }
                raw.storeBytes(of: sin6, as: sockaddr_in6.self)
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address.bytes) }
            raw.storeBytes(of: sin, as: sockaddr_in.self)
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// Reads what `recvfrom`/`accept`/`getsockname` filled in; nil for other families.
    init?(_ storage: sockaddr_storage) {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in.self) }
            let bytes = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            self.init(address: DNSIPAddress(bytes: bytes)!, port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in6.self) }
            let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            self.init(address: DNSIPAddress(bytes: bytes)!, port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }
}
