import NIOCore
import NIOHTTP1

/// One connection to a destination, as the forwarder drives it.
protocol AuditTransport: AnyObject {
    /// Sends records, in order.
    func send(_ records: [AuditStoredRecord]) async throws
    /// The highest sequence number delivered so far; throws once the connection is unusable.
    func acknowledged() throws -> UInt64?
    func close() async
}

/// RFC 5424 over TCP (or TLS), octet-counted. A record is acknowledged once written to the
/// socket without error and the connection stayed up for `settle` after (see `SyslogDestination`).
final class SyslogTransport: AuditTransport {
    private let destination: SyslogDestination
    private let channel: Channel
    private let firstError: FirstError
    private var inflight: [(seq: UInt64, written: ContinuousClock.Instant)] = []
    private var confirmed: UInt64?

    private init(destination: SyslogDestination, channel: Channel, firstError: FirstError) {
        self.destination = destination
        self.channel = channel
        self.firstError = firstError
    }

    static func connect(_ destination: SyslogDestination) async throws -> SyslogTransport {
        let firstError = FirstError()
        let channel = try await ForwarderConnection.connect(
            host: destination.host, port: destination.port, tls: destination.tls, timeout: .seconds(10)
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(CloseOnErrorHandler(firstError: firstError))
            return channel
        }
        return SyslogTransport(destination: destination, channel: channel, firstError: firstError)
    }

    func send(_ records: [AuditStoredRecord]) async throws {
        guard channel.isActive else { throw closed }
        var buffer = channel.allocator.buffer(capacity: records.count * 1024)
        for stored in records {
            buffer.writeBytes(SyslogFormat.frame(SyslogFormat.message(stored, facility: destination.facility)))
        }
        // Completes once the bytes are in the socket (TLS: encrypted and in the socket).
        do {
            try await channel.writeAndFlush(buffer).get()
        } catch {
            throw firstError.value.map { ForwarderError(name, "\($0)") } ?? error
        }
        let now = ContinuousClock.now
        inflight += records.map { ($0.record.seq, now) }
    }

    func acknowledged() throws -> UInt64? {
        guard channel.isActive else { throw closed }
        let cutoff = ContinuousClock.now - destination.settle
        while let first = inflight.first, first.written <= cutoff {
            confirmed = first.seq
            inflight.removeFirst()
        }
        return confirmed
    }

    func close() async {
        try? await channel.close().get()
    }

    private var name: String { "syslog \(destination.host):\(destination.port)" }

    private var closed: ForwarderError {
        ForwarderError(name, firstError.value.map { "connection failed: \($0)" } ?? "connection closed by the collector")
    }
}

/// OTLP/HTTP JSON: one POST per batch, acknowledged by a 2xx answer.
final class OTLPTransport: AuditTransport {
    private let destination: OTLPDestination
    private var confirmed: UInt64?

    init(_ destination: OTLPDestination) {
        self.destination = destination
    }

    func send(_ records: [AuditStoredRecord]) async throws {
        guard let first = records.first else { return }
        let body = OTLPFormat.request(records, host: first.record.host).canonicalBytes
        let d = destination, name = name
        let status = try await withThrowingTaskGroup(of: UInt.self) { group in
            group.addTask { try await Self.post(body, to: d, name: name) }
            group.addTask {
                try await Task.sleep(for: d.timeout)
                throw ForwarderError(name, "no answer within \(d.timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        guard (200..<300).contains(status) else { throw ForwarderError(name, "collector answered HTTP \(status)") }
        confirmed = records.last!.record.seq
    }

    func acknowledged() throws -> UInt64? { confirmed }

    func close() async {}

    private var name: String { "otlp \(destination.host):\(destination.port)\(destination.path)" }

    private static func post(_ body: [UInt8], to d: OTLPDestination, name: String) async throws -> UInt {
        let channel = try await ForwarderConnection.connect(host: d.host, port: d.port, tls: d.tls, timeout: d.timeout) {
            channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
        }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: d.path)
            let hostHeader = d.host.contains(":") ? "[\(d.host)]:\(d.port)" : "\(d.host):\(d.port)"
            head.headers.add(name: "Host", value: hostHeader)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.count))
            head.headers.add(name: "Connection", value: "close")
            head.headers.add(name: "User-Agent", value: "\(AuditProduct.name)/\(AuditProduct.version)")
            for (name, value) in d.headers.sorted(by: { $0.key < $1.key }) { head.headers.add(name: name, value: value) }
            // One write: a collector that has the whole body may answer and close at once, and a
            // separate `.end` written after that failed on the closed channel, so a delivered
            // batch counted as failed and was sent again.
            try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)])
            var status: UInt?
            for try await part in inbound {
                switch part {
                case .head(let response): status = response.status.code
                case .body: break
                case .end: if let status { return status }
                }
            }
            throw ForwarderError(name, "connection closed before a complete answer")
        }
    }
}
