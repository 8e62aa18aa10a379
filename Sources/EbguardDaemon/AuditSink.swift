import EbguardAudit
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// The daemon's side of the audit trail: takes records from the synchronous loop without ever
/// making it wait, and feeds them to the `AuditLog` actor and its forwarders, which run as
/// services of the daemon's service group (DaemonServices.swift).
///
/// The hand-over is a bounded queue behind a lock and a doorbell: `submit` appends, and rings
/// only when the queue was empty. The writer then lets the burst gather for `gatherInterval`
/// and hands the whole queue to the log in one hop, so a busy loop costs the writer a wake-up
/// per batch rather than per record (records reach the disk on the log's 100 ms flush anyway).
/// If the writer falls `queueCapacity` records behind (a stalled disk), newer records are
/// dropped and counted, and the next record written is a `lost_events` record
/// (`source: "audit"`) with the count: the trail says it has a hole rather than the loop
/// stalling the kernel's ring.
public final class AuditSink: Sendable {
    private struct Queue: Sendable {
        /// In the form `AuditLog.append(contentsOf:)` takes, so a batch is handed over as is.
        var items: [(event: AuditEvent, time: AuditTime)] = []
        /// Dropped at the hand-over and not yet recorded / since the start.
        var unrecorded: UInt64 = 0
        var droppedTotal: UInt64 = 0
    }

    /// How long the writer waits after the doorbell before taking the queue.
    static let gatherInterval = Duration.milliseconds(10)

    public let settings: AuditSettings
    public let log: AuditLog
    public let forwarders: [AuditForwarder]
    private let version: String
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation
    /// nil until the log task first reports.
    private let snapshot = Mutex<AuditLogStatus?>(nil)
    private let started = Mutex(false)
    private let intakeClosed = Mutex(false)

    /// Opens the log (continuing its chain); starts nothing yet.
    public init(settings: AuditSettings, version: String, logger: Logger) throws(AuditError) {
        self.settings = settings
        self.version = version
        self.logger = logger
        log = try AuditLog(configuration: settings.log, logger: logger)
        forwarders = settings.forwarders.map { AuditForwarder(logPath: settings.log.path, configuration: $0, logger: logger) }
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// How long a clean stop waits for the forwarders to deliver the last records (a collector
    /// that is down must not keep the daemon from stopping: what is left stays in the log and
    /// is sent after the restart, from each destination's state file).
    static let deliveryTimeout = Duration.seconds(10)

    /// Records `daemon_start`, first of all records. The writing is done by `trailService` and
    /// `forwarderServices`, which the daemon's service group runs; until they start, records wait
    /// in the queue.
    public func start(pid: Int32 = getpid()) {
        guard !started.withLock({ let was = $0; $0 = true; return was }) else { return }
        submit(.daemonStart(AuditDaemon(version: version, pid: pid)))
    }

    /// Records `daemon_stop` and closes the intake: the trail service writes what was handed over,
    /// makes it durable and ends. Safe from any thread; only the first call counts.
    public func finishIntake(reason: String) {
        guard !intakeClosed.withLock({ let was = $0; $0 = true; return was }) else { return }
        if started.withLock({ $0 }) { submit(.daemonStop(AuditDaemon(version: version, pid: getpid(), reason: reason))) }
        ring.finish()
    }

    /// The log's writer, flush timer and status: runs until the intake is closed (by the daemon's
    /// loop as it stops, or by a graceful shutdown that reaches it first), then writes and fsyncs
    /// everything handed over, closes the log and tells the forwarders where the trail ends.
    var trailService: some Service { AuditTrailService(sink: self) }

    /// One per destination: delivers until the trail service says where the trail ends and that
    /// record is acknowledged, or `deliveryTimeout` after the group's graceful shutdown reaches it.
    var forwarderServices: [ServiceGroupConfiguration.ServiceConfiguration] {
        forwarders.map { forwarder in
            // A forwarder that fails is logged and left: the daemon and the trail go on without it.
            .init(service: AuditForwarderService(forwarder: forwarder, logger: logger),
                  successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)
        }
    }

    fileprivate func runTrail() async {
        let log = self.log
        let background = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await log.run() }
                group.addTask { await self.refreshStatus() }
            }
        }
        await withGracefulShutdownHandler {
            await self.write()
        } onGracefulShutdown: {
            self.finishIntake(reason: "shutdown")
        }
        // Everything handed over is appended. Make it durable, then have the forwarders deliver
        // through the last record before they end (`daemon_stop` included).
        try? await log.flush()
        background.cancel()  // `run()` flushes once more when cancelled
        await background.value
        try? await log.close()
        await refreshOnce()
        let last = await log.status().durableSeq
        for forwarder in forwarders { forwarder.finish(through: last) }
    }

    /// Hands a record over; never blocks. Safe from any thread.
    public func submit(_ event: AuditEvent, at time: AuditTime = .now()) {
        let wasEmpty = queue.withLock { queue in
            guard queue.items.count < settings.queueCapacity else {
                queue.unrecorded += 1
                queue.droppedTotal += 1
                return false
            }
            queue.items.append((event, time))
            return queue.items.count == 1
        }
        if wasEmpty { ring.yield() }
    }

    /// Kernel events the ring buffer lost (its per-CPU counter's growth since the last call).
    public func recordLost(count: UInt64, session: String? = nil) {
        guard count > 0 else { return }
        submit(.lostEvents(AuditLostEvents(source: "ringbuf", count: count, session: session)))
    }

    /// The log's state as of a moment ago (the loop cannot await the actor).
    public var logStatus: AuditLogStatus? { snapshot.withLock { $0 } }

    /// Records dropped at the hand-over since the daemon started.
    public var droppedTotal: UInt64 { queue.withLock { $0.droppedTotal } }

    private func write() async {
        for await _ in doorbell {
            try? await Task.sleep(for: Self.gatherInterval)
            await appendQueued()
        }
        // What came after the last doorbell (`daemon_stop` among it).
        await appendQueued()
    }

    /// Takes the whole queue and appends it, then a `lost_events` record for what was dropped
    /// (records are dropped only while the queue is full, so after everything in it).
    private func appendQueued() async {
        var (batch, lost): ([(event: AuditEvent, time: AuditTime)], UInt64) = ([], 0)
        queue.withLock { queue in
            swap(&batch, &queue.items)  // the queue starts again empty; no copy of the batch
            swap(&lost, &queue.unrecorded)
        }
        guard !batch.isEmpty || lost > 0 else { return }
        if lost > 0 { batch.append((.lostEvents(AuditLostEvents(source: "audit", count: lost)), .now())) }
        do {
            let (seq, refused) = try await log.append(contentsOf: batch)
            // The rest of the status comes with the timer; asking the actor per batch would
            // double the hops on the hot path.
            if let seq {
                snapshot.withLock { status in
                    if status != nil { status!.lastSeq = max(status!.lastSeq, seq) }
                }
            }
            if refused > 0 {
                // The log counts them and writes its own lost_events once the disk is back.
                logger.warning("audit records not kept: the log's backlog is full", metadata: ["records": "\(refused)"])
            }
        } catch {
            logger.warning("audit records not kept", metadata: ["records": "\(batch.count)", "error": "\(error)"])
        }
    }

    private func refreshOnce() async {
        var status = await log.status()
        snapshot.withLock { current in
            // A record appended while the actor answered may already be counted here.
            status.lastSeq = max(status.lastSeq, current?.lastSeq ?? 0)
            current = status
        }
    }

    /// Keeps `logStatus` current between records (fsyncs and disk errors happen on the timer).
    private func refreshStatus() async {
        while !Task.isCancelled {
            await refreshOnce()
            do { try await Task.sleep(for: .milliseconds(200)) } catch { return }
        }
    }
}

extension AuditSink {
    /// For `ebguard status`: the log's state and each destination's delivery.
    public func report() -> AuditReport {
        let status = logStatus
        let lastSeq = status?.lastSeq ?? 0
        let forwarders = forwarders.map { forwarder in
            let delivery = forwarder.status
            return ForwarderReport(name: delivery.name, destination: Self.describe(forwarder.configuration.destination),
                                   ackedSeq: delivery.ackedSeq, lag: max(delivery.lag, delivery.lag(lastAppended: lastSeq)),
                                   connected: delivery.connected, lastError: delivery.lastError, skipped: delivery.skipped)
        }
        return AuditReport(path: settings.log.path, lastSeq: lastSeq, durableSeq: status?.durableSeq ?? 0,
                           pending: status?.pending ?? 0, dropped: droppedTotal, refused: status?.refused ?? 0,
                           lastError: status?.lastError?.description, diskFull: status?.lastError?.isDiskFull ?? false,
                           forwarders: forwarders)
    }

    static func describe(_ destination: ForwarderConfiguration.Destination) -> String {
        switch destination {
        case .syslog(let d): "syslog\(d.tls == nil ? "" : "+tls")://\(d.host.contains(":") ? "[\(d.host)]" : d.host):\(d.port)"
        case .otlp(let d): "\(d.tls == nil ? "http" : "https")://\(d.host.contains(":") ? "[\(d.host)]" : d.host):\(d.port)\(d.path)"
        }
    }
}

private struct AuditTrailService: Service, CustomStringConvertible {
    let sink: AuditSink
    var description: String { "audit trail (\(sink.settings.log.path))" }
    func run() async {
        await sink.runTrail()
        await endWhenTold()
    }
}

/// A service of the trail that is done waits for the group to stop it: one that ends while the
/// group is stopping another makes the group cancel every service left, forwarders still
/// delivering included.
private func endWhenTold() async {
    try? await gracefulShutdown()
}

private struct AuditForwarderService: Service, CustomStringConvertible {
    let forwarder: AuditForwarder
    let logger: Logger
    var description: String { "audit forwarder \(forwarder.configuration.name)" }

    func run() async throws {
        let forwarder = self.forwarder
        do {
            let delivered = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await forwarder.run()
                    return true
                }
                group.addTask {
                    // The trail service, stopped before us, said where the trail ends: deliver
                    // through it, for a bounded time.
                    try await gracefulShutdown()
                    try? await Task.sleep(for: AuditSink.deliveryTimeout)
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
            if !delivered {
                logger.warning("audit forwarder: not everything was delivered before the stop; the rest is sent after the restart",
                               metadata: ["destination": "\(forwarder.configuration.name)"])
            }
        } catch {
            logger.error("audit forwarder stopped", metadata: ["destination": "\(forwarder.configuration.name)", "error": "\(error)"])
            throw error
        }
        await endWhenTold()
    }
}
