import Foundation

/// The real DNS server the resolver forwards allowed names to.
public struct DNSUpstream: Hashable, Sendable, CustomStringConvertible {
    public let address: DNSIPAddress
    public let port: UInt16

    public init(address: DNSIPAddress, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    public var endpoint: DNSEndpoint { DNSEndpoint(address: address, port: port) }
    public var description: String { endpoint.description }

    /// Parses `ADDR` (port 53), `V4:PORT` or `[V6]:PORT`. A bare IPv6 address has no port
    /// (its colons are the address's own).
    public init(parsing text: String) throws(DNSUpstreamError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .invalid(text, "empty address") }
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw .invalid(text, "missing ']' after the IPv6 address") }
            let inner = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            guard let address = DNSIPAddress(inner), address.isIPv6 else { throw .invalid(text, "'\(inner)' is not an IPv6 address") }
            let rest = trimmed[trimmed.index(after: close)...]
            if rest.isEmpty { self.init(address: address); return }
            guard rest.hasPrefix(":") else { throw .invalid(text, "expected ':PORT' after ']'") }
            self.init(address: address, port: try Self.port(String(rest.dropFirst()), in: text))
            return
        }
        if let address = DNSIPAddress(trimmed) { self.init(address: address); return }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .invalid(text, parts.count > 2 ? "an IPv6 address with a port is written [ADDR]:PORT" : "not an IP address")
        }
        guard let address = DNSIPAddress(String(parts[0])), !address.isIPv6 else {
            throw .invalid(text, "'\(parts[0])' is not an IPv4 address")
        }
        self.init(address: address, port: try Self.port(String(parts[1]), in: text))
    }

    /// The first `nameserver` line of a resolv.conf (resolv.conf(5)): what the host's own programs
    /// ask, e.g. systemd-resolved's 127.0.0.53. Comments start with `#` or `;`.
    public static func fromResolvConf(path: String = "/etc/resolv.conf") throws(DNSUpstreamError) -> DNSUpstream {
        let contents: String
        do { contents = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path, "\(error.localizedDescription)")
        }
        for (index, rawLine) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.prefix { $0 != "#" && $0 != ";" }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.first == "nameserver" else { continue }
            guard fields.count >= 2 else { throw .badLine(path, index + 1, "nameserver without an address") }
            let text = String(fields[1])
            guard !text.contains("%") else { throw .badLine(path, index + 1, "scoped IPv6 nameserver '\(text)' is not supported") }
            guard let address = DNSIPAddress(text) else { throw .badLine(path, index + 1, "'\(text)' is not an IP address") }
            return DNSUpstream(address: address)
        }
        throw .noNameserver(path)
    }

    private static func port(_ text: String, in whole: String) throws(DNSUpstreamError) -> UInt16 {
        guard let port = UInt16(text), port != 0 else { throw .invalid(whole, "'\(text)' is not a port (1-65535)") }
        return port
    }
}

public enum DNSUpstreamError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String, String)
    case unreadable(String, String)
    case badLine(String, Int, String)
    case noNameserver(String)

    public var description: String {
        switch self {
        case .invalid(let text, let why): "DNS upstream '\(text)': \(why)"
        case .unreadable(let path, let why): "reading \(path): \(why)"
        case .badLine(let path, let line, let why): "\(path):\(line): \(why)"
        case .noNameserver(let path): "\(path): no nameserver line"
        }
    }
}
