import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Why delivery to a destination failed.
public struct ForwarderError: Error, Sendable, CustomStringConvertible {
    public var destination: String
    public var message: String

    public init(_ destination: String, _ message: String) {
        self.destination = destination
        self.message = message
    }

    public var description: String { "\(destination): \(message)" }
}

/// Opening client connections, with TLS when asked. SwiftNIO and NIOSSL do the work: no
/// hand-made TLS.
enum ForwarderConnection {
    static func sslContext(_ tls: ForwarderTLS) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        if let ca = tls.caFile { config.trustRoots = .file(ca) }
        if let cert = tls.certificateFile, let key = tls.keyFile {
            config.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            config.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return try NIOSSLContext(configuration: config)
    }

    /// The SNI name: none for an IP address (NIOSSL then checks the certificate's IP SANs
    /// against the peer's address).
    static func serverName(host: String, tls: ForwarderTLS) -> String? {
        if let name = tls.serverName { return name }
        let isIP = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        return isIP ? nil : host
    }

    /// Connects; `initializer` adds handlers after TLS and returns what the caller works with.
    static func connect<Output: Sendable>(host: String, port: Int, tls: ForwarderTLS?, timeout: Duration,
                                          initializer: @escaping @Sendable (Channel) throws -> Output) async throws -> Output {
        let context = try tls.map(sslContext)
        let name = tls.flatMap { serverName(host: host, tls: $0) }
        let (seconds, attoseconds) = timeout.components
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
                    }
                    return try initializer(channel)
                }
            }
    }
}

/// The first error a connection saw (a failed TLS handshake, a reset), to report instead of
/// the "I/O on closed channel" that later writes get.
final class FirstError: Sendable {
    private let error = Mutex<(any Error)?>(nil)

    func record(_ e: any Error) { error.withLock { if $0 == nil { $0 = e } } }
    var value: (any Error)? { error.withLock { $0 } }
}

/// Drops whatever a syslog collector sends (nothing, normally) and closes on any error, so
/// that `isActive` turns false as soon as the connection is unusable.
final class CloseOnErrorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let firstError: FirstError

    init(firstError: FirstError) { self.firstError = firstError }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        firstError.record(error)
        context.close(promise: nil)
    }
}
