/// TLS for a forwarder's connection. Without `caFile`, the system's roots are trusted.
public struct ForwarderTLS: Sendable, Hashable {
    /// PEM file of the CA(s) that sign the collector's certificate.
    public var caFile: String?
    /// Client certificate and key (PEM), for collectors that require mutual TLS.
    public var certificateFile: String?
    public var keyFile: String?
    /// The name to check the collector's certificate against; default: the destination host,
    /// or, for an IP address, the address itself (checked against the certificate's IP SANs).
    public var serverName: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }
}

/// RFC 5424 syslog over TCP with octet-counting framing (RFC 6587), optionally TLS (RFC 5425).
public struct SyslogDestination: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var tls: ForwarderTLS?
    /// Syslog facility; 13 is "log audit".
    public var facility: Int
    /// TCP syslog has no acknowledgement: a record counts as delivered once written to the
    /// socket *and* the connection stayed up this long after. A connection that drops sooner
    /// gets those records again (at-least-once: a collector may see a record twice).
    public var settle: Duration

    public init(host: String, port: Int = 514, tls: ForwarderTLS? = nil, facility: Int = 13,
                settle: Duration = .seconds(1)) {
        self.host = host
        self.port = port
        self.tls = tls
        self.facility = facility
        self.settle = settle
    }
}

/// OTLP/HTTP with JSON encoding: `POST <url>` (normally `http://collector:4318/v1/logs`).
public struct OTLPDestination: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var path: String
    public var tls: ForwarderTLS?
    /// Extra request headers (e.g. an `Authorization` the collector wants).
    public var headers: [String: String]
    public var timeout: Duration

    public init(host: String, port: Int = 4318, path: String = "/v1/logs", tls: ForwarderTLS? = nil,
                headers: [String: String] = [:], timeout: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.path = path
        self.tls = tls
        self.headers = headers
        self.timeout = timeout
    }

    /// From a URL such as `http://127.0.0.1:4318/v1/logs` or `https://otel.example:4318/v1/logs`.
    /// For `https`, `tls` is used (default settings if nil).
    public init?(url: String, tls: ForwarderTLS? = nil, headers: [String: String] = [:]) {
        let secure: Bool
        var rest: Substring
        if url.hasPrefix("http://") { secure = false; rest = url.dropFirst(7) }
        else if url.hasPrefix("https://") { secure = true; rest = url.dropFirst(8) }
        else { return nil }
        let authority = rest.prefix { $0 != "/" }
        rest = rest.dropFirst(authority.count)
        var host = Substring(authority)
        var port = secure ? 443 : 80
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") { guard let p = Int(after.dropFirst()) else { return nil }; port = p }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port, path: rest.isEmpty ? "/v1/logs" : String(rest),
                  tls: secure ? (tls ?? ForwarderTLS()) : nil, headers: headers)
    }
}

/// One destination the audit trail is forwarded to. The daemon will build these from
/// `/etc/ebguard/ebguard.yaml`.
public struct ForwarderConfiguration: Sendable, Hashable {
    public enum Destination: Sendable, Hashable {
        case syslog(SyslogDestination)
        case otlp(OTLPDestination)
    }

    /// Names the state file (`<stateDirectory>/<name>.state`) and appears in status and logs.
    public var name: String
    public var destination: Destination
    public var stateDirectory: String
    /// Records per syslog write or OTLP request.
    public var batchSize: Int
    /// How often the log files are looked at for new records.
    public var pollInterval: Duration
    /// Retry delays: doubled after each failure, from `initialBackoff` up to `maxBackoff`.
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public static let defaultStateDirectory = "/var/lib/ebguard/forward"

    public init(name: String, destination: Destination, stateDirectory: String = defaultStateDirectory,
                batchSize: Int = 100, pollInterval: Duration = .milliseconds(200),
                initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(30)) {
        self.name = name
        self.destination = destination
        self.stateDirectory = stateDirectory
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    public var statePath: String { "\(stateDirectory)/\(name).state" }
}
