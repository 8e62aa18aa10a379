import EbguardSystem
import Foundation
import Glibc
import Synchronization
import SystemPackage

/// The session's DNS server: listens on 127.0.0.1 and ::1, UDP and TCP, all on one port, and
/// answers every query through the delegate (see `DNSResolverDelegate`) and the upstream.
///
/// Threads: one per listening socket (receive/accept loop), one per TCP connection (up to
/// `DNSLimits.maxTCPConnections`) and one per UDP query in flight (up to `maxInFlight`), because
/// `decide` may block for minutes and must only block its own query. TCP queries on one
/// connection are answered in order, on the connection's thread.
///
/// `stop()` wakes and joins the listener threads and closes idle connections. A query blocked in
/// `decide` finishes on its own; its answer is then discarded, and the sockets it holds close
/// when it returns (a socket is closed once, by its last owner, so no descriptor is reused
/// under a late sender).
public final class DNSResolverServer: Sendable {
    /// The one port every listener uses (ephemeral, chosen at init).
    public let port: UInt16
    public let upstream: DNSUpstream
    /// False when ::1 could not be bound (IPv6 disabled on this host); 127.0.0.1 always is.
    public let listensOnIPv6: Bool
    private let core: DNSServerCore

    /// Binds the sockets (so `port` is known before `start()`); throws when 127.0.0.1 cannot be
    /// bound after a few ports.
    public init(upstream: DNSUpstream, limits: DNSLimits = DNSLimits(), delegate: DNSResolverDelegate) throws(SystemError) {
        let sockets = try Self.bindAll()
        port = sockets.port
        listensOnIPv6 = sockets.udp.count == 2
        self.upstream = upstream
        core = DNSServerCore(udp: sockets.udp, tcp: sockets.tcp, waker: try Waker(),
                             processor: DNSQueryProcessor(upstream: upstream, limits: limits, delegate: delegate),
                             limits: limits)
    }

    /// Starts the listener threads. Idempotent; after `stop()` it does nothing.
    public func start() { core.start() }

    /// Stops listening and returns once the listener threads have ended. Idempotent.
    public func stop() { core.stop() }

    deinit { core.stop() }

    /// Queries currently between arrival and answer.
    public var queriesInFlight: Int { core.processor.inFlight.count }
    /// TCP connections currently open.
    public var tcpConnections: Int { core.connections.count }

    /// UDP 127.0.0.1:0 picks the port; the other three must get the same one. Another program can
    /// take it in between (EADDRINUSE), so the whole set is retried on a new port a few times.
    private static func bindAll() throws(SystemError) -> (port: UInt16, udp: [DNSSocket], tcp: [DNSSocket]) {
        var lastError = SystemError("binding the resolver's sockets", errno: .addressInUse)
        for _ in 0..<8 {
            let udp4 = try DNSSocket.udp(AF_INET)
            try udp4.bind(DNSEndpoint(address: .loopbackV4, port: 0))
            guard let port = udp4.localEndpoint()?.port else { throw SystemError.current("getsockname") }
            do throws(SystemError) {
                let tcp4 = try DNSSocket.tcp(AF_INET)
                try tcp4.bind(DNSEndpoint(address: .loopbackV4, port: port))
                try tcp4.listen(backlog: 64)
                guard let (udp6, tcp6) = try bindIPv6(port: port) else { return (port, [udp4], [tcp4]) }
                return (port, [udp4, udp6], [tcp4, tcp6])
            } catch where error.errno == .addressInUse {
                lastError = error
            }
        }
        throw lastError
    }

    /// Nil when the host has no IPv6 loopback (no AF_INET6, or ::1 not configured).
    private static func bindIPv6(port: UInt16) throws(SystemError) -> (DNSSocket, DNSSocket)? {
        let endpoint = DNSEndpoint(address: .loopbackV6, port: port)
        do throws(SystemError) {
            let udp6 = try DNSSocket.udp(AF_INET6)
            try udp6.bind(endpoint)
            let tcp6 = try DNSSocket.tcp(AF_INET6)
            try tcp6.bind(endpoint)
            try tcp6.listen(backlog: 64)
            return (udp6, tcp6)
        } catch where error.errno == .addressFamilyNotSupported || error.errno == .addressNotAvailable {
            return nil
        }
    }
}

/// What the threads share; they hold this, not the server, so dropping the server stops them.
final class DNSServerCore: Sendable {
    let udp: [DNSSocket]
    let tcp: [DNSSocket]
    let waker: Waker
    let processor: DNSQueryProcessor
    let limits: DNSLimits
    let connections: Slots
    private enum Phase { case idle, running, stopped }
    private let phase = Mutex(Phase.idle)
    private let stopping = Atomic(false)
    private let listeners = DispatchGroup()

    init(udp: [DNSSocket], tcp: [DNSSocket], waker: Waker, processor: DNSQueryProcessor, limits: DNSLimits) {
        self.udp = udp
        self.tcp = tcp
        self.waker = waker
        self.processor = processor
        self.limits = limits
        connections = Slots(limit: limits.maxTCPConnections)
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func start() {
        let go = phase.withLock { p in
            guard p == .idle else { return false }
            p = .running
            return true
        }
        guard go else { return }
        for socket in udp { spawn(joined: true) { self.serveUDP(socket) } }
        for socket in tcp { spawn(joined: true) { self.acceptTCP(socket) } }
    }

    func stop() {
        let wasRunning = phase.withLock { p in
            defer { p = .stopped }
            return p == .running
        }
        stopping.store(true, ordering: .releasing)
        waker.fire()
        if wasRunning { listeners.wait() }
    }

    /// Runs `body` on a new thread; listener threads are joined by `stop()`.
    func spawn(joined: Bool = false, _ body: @escaping @Sendable () -> Void) {
        if joined { listeners.enter() }
        let thread = Thread { [listeners] in
            body()
            if joined { listeners.leave() }
        }
        thread.stackSize = 512 * 1024
        thread.start()
    }
}
