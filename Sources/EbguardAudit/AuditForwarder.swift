import Logging
import Synchronization

/// Sends the audit log to one collector, at least once and in order, from the log's files.
///
/// It reads records after the last acknowledged one (kept in the destination's state file),
/// only up to the log's head checkpoint (so nothing is sent that a crash could still take
/// back), sends them in batches, and advances the state when the destination acknowledges
/// them (syslog: written and settled; OTLP: HTTP 2xx). On any failure it drops the connection,
/// waits (exponential backoff), and resends from the last acknowledged record: after a
/// collector outage or a restart of the daemon, nothing is lost and nothing is skipped; a
/// record may arrive twice (collectors can deduplicate on host + `seq`).
///
/// The daemon runs one per destination in its task group: `group.addTask { try await f.run() }`.
public final class AuditForwarder: Sendable {
    public let configuration: ForwarderConfiguration
    public let files: AuditLogFiles
    private let logger: Logger
    private let shared: Mutex<ForwarderStatus>
    /// Set by `finish(through:)`: `run()` returns once the destination acknowledged this seq.
    private let finalSeq = Mutex<UInt64?>(nil)

    public init(logPath: String, configuration: ForwarderConfiguration, logger: Logger) {
        self.configuration = configuration
        self.files = AuditLogFiles(path: logPath)
        var logger = logger
        logger[metadataKey: "destination"] = "\(configuration.name)"
        self.logger = logger
        self.shared = Mutex(ForwarderStatus(name: configuration.name, ackedSeq: 0, latestSeq: 0, connected: false,
                                            lastError: nil, skipped: 0))
    }

    /// Delivery state for `ebguard status`.
    public var status: ForwarderStatus { shared.withLock { $0 } }

    /// A clean stop: `run()` delivers everything up to `seq` (the log's last durable record)
    /// and returns once the destination acknowledged it. Whoever stops it also bounds the wait
    /// by cancelling: what is left is resent from the state file after the restart.
    public func finish(through seq: UInt64) {
        finalSeq.withLock { $0 = seq }
    }

    /// Delivers until the task is cancelled, or until `finish(through:)`'s record is acknowledged. Throws only if the state file cannot be read
    /// (a corrupt one is not silently reset: that would resend the whole log).
    public func run() async throws {
        var state = try ForwarderState.load(configuration.statePath)
        let reader = AuditTailReader(files: files, after: state.ackedSeq)
        var transport: AuditTransport?
        var sent: [(seq: UInt64, hash: String)] = []
        var backoff = configuration.initialBackoff
        shared.withLock { $0.ackedSeq = state.ackedSeq }
        logger.info("forwarding audit records", metadata: ["after_seq": "\(state.ackedSeq)"])

        func acknowledge(_ t: AuditTransport) throws {
            guard let acked = try t.acknowledged(), acked > state.ackedSeq else { return }
            let hash = sent.last { $0.seq == acked }?.hash
            sent.removeAll { $0.seq <= acked }
            state = ForwarderState(ackedSeq: acked, ackedSHA256: hash)
            do {
                try state.save(configuration.statePath)
            } catch {
                // Delivery goes on; after a restart some records would be sent twice.
                logger.warning("forwarder state not saved", metadata: ["error": "\(error)"])
            }
            shared.withLock { $0.ackedSeq = acked }
        }

        delivery: while !Task.isCancelled {
            let latest = AuditHead.read(files.headPath)?.seq ?? UInt64.max
            shared.withLock { $0.latestSeq = latest == .max ? reader.lastSeq : latest }
            do {
                if let t = transport { try acknowledge(t) }
                if let last = finalSeq.withLock({ $0 }), state.ackedSeq >= last { break delivery }
                let batch = try reader.next(max: configuration.batchSize, limit: latest)
                shared.withLock { $0.skipped = reader.skipped }
                if batch.isEmpty {
                    try await Task.sleep(for: configuration.pollInterval)
                    continue
                }
                if transport == nil {
                    transport = try await connect()
                    shared.withLock { $0.connected = true }
                    logger.info("connected to collector")
                }
                try await transport!.send(batch)
                sent += batch.map { ($0.record.seq, AuditHash.sha256Hex($0.bytes)) }
                try acknowledge(transport!)
                backoff = configuration.initialBackoff
                shared.withLock { $0.lastError = nil }
            } catch is CancellationError {
                break delivery
            } catch {
                logger.warning("delivery failed; retrying", metadata: [
                    "error": "\(error)", "acked_seq": "\(state.ackedSeq)", "retry_in": "\(backoff)",
                ])
                shared.withLock {
                    $0.lastError = "\(error)"
                    $0.connected = false
                }
                await transport?.close()
                transport = nil
                sent = []
                reader.rewind(to: state.ackedSeq)
                do { try await Task.sleep(for: backoff) } catch { break delivery }
                backoff = min(backoff * 2, configuration.maxBackoff)
            }
        }
        await transport?.close()
    }

    private func connect() async throws -> AuditTransport {
        switch configuration.destination {
        case .syslog(let d): try await SyslogTransport.connect(d)
        case .otlp(let d): OTLPTransport(d)
        }
    }
}
