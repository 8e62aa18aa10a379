import Foundation
import Logging
import ServiceLifecycle

/// The daemon as a `ServiceGroup`:
///
/// - the **loop** (ring reader, control server and decisions): one thread of its own owns the
///   sessions, the subscribers and the pending asks, so none of them needs a lock; work done
///   elsewhere (a held exec's command line, a resolver's question) comes back through its mailbox;
/// - the **audit trail** (the log's writer, its fsync timer and status);
/// - one **forwarder** per destination.
///
/// Stopping happens in a defined order, the reverse of that list, each service ending before the
/// next is told to: the loop catches SIGTERM or SIGINT itself (its poll already waits on the
/// signal pipe), publishes its last events and hands over `daemon_stop`; the trail then writes and
/// fsyncs everything it was handed and tells the forwarders where it ends; the forwarders deliver
/// through that record, for at most `AuditSink.deliveryTimeout`. So `systemctl stop` loses no
/// record that a collector could have been given. A graceful shutdown that is not the loop's own
/// (the group's) reaches the loop through its mailbox.
extension Daemon {
    /// Longest a whole graceful stop may take before the group cancels what is left: a dead disk
    /// must not keep the daemon from exiting (what is lost then is what a `kill -9` loses).
    static let maximumStopDuration = Duration.seconds(15)

    /// The service group that runs this daemon; `run()` it once.
    public func serviceGroup(logger: Logger) -> ServiceGroup {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = audit?.forwarderServices ?? []
        if let audit {
            // Ends when the intake is closed: then the forwarders are told to finish too.
            services.append(.init(service: audit.trailService, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        services.append(.init(service: DaemonLoopService(daemon: self), successTerminationBehavior: .gracefullyShutdownGroup,
                              failureTerminationBehavior: .gracefullyShutdownGroup))
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.maximumGracefulShutdownDuration = Self.maximumStopDuration
        return ServiceGroup(configuration: configuration)
    }
}

/// Runs the daemon's blocking poll loop on a thread of its own, so it never holds one of the
/// few threads Swift's tasks share (the audit trail and the forwarders run there).
private struct DaemonLoopService: Service, CustomStringConvertible, @unchecked Sendable {
    var description: String { "loop (ring reader, control server, decisions)" }
    /// Touched by the loop's thread alone once `run()` starts; others reach it by its mailbox.
    let daemon: Daemon

    func run() async {
        let mailbox = daemon.mailbox
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    self.daemon.run()
                    finished.resume()
                }
                thread.name = "ebguard-loop"
                thread.start()
            }
        } onGracefulShutdown: {
            mailbox.post(.stop)
        }
    }
}
