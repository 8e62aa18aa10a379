import ArgumentParser
import EbguardDaemon
import EbguardEnforcement
import EbguardVersion
import Foundation
import Glibc
import Logging

/// `ebguard daemon`: the host agent (see packaging/ebguard.service).
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the ebguard host daemon: sessions, the live event stream, the control socket.",
        discussion: """
        Programs, links and maps stay pinned under /sys/fs/bpf/ebguard, so sessions stay \
        enforced when the daemon stops or dies; a new daemon adopts them. Stops on SIGTERM.
        """
    )

    @Option(help: "Directory for the lock, the session records and the socket.")
    var stateDir = "/run/ebguard"

    @Option(help: "Control socket path (default: STATE_DIR/ebguard.sock).")
    var socket: String?

    @Option(help: "Where answers with scope always are kept, one policy file per policy.")
    var overlayDir = "/etc/ebguard/overlays"

    @Option(help: ArgumentHelp("Configuration file: audit log and forwarding (see packaging/ebguard.yaml).",
                               discussion: "Without it, \(DaemonConfigFile.defaultPath) if it exists, else the defaults."))
    var config: String?

    @Option(help: ArgumentHelp("The lowest level logged: trace, debug, info, notice, warning, error or critical.",
                               discussion: "Under systemd each line carries its priority for the journal."))
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard geteuid() == 0 else { throw ValidationError("ebguard daemon needs root to load BPF programs") }
    }

    func run() async throws {
        LogOutput.bootstrap(level: logLevel)
        let logger = Logger(label: "ebguard.daemon")
        // Read first: a bad file stops the daemon before it loads or changes anything.
        let file: DaemonConfigFile
        do {
            file = try DaemonConfigFile.load(config ?? DaemonConfigFile.defaultPath, required: config != nil)
        } catch {
            fail("ebguard daemon: configuration refused; nothing changed\n\(error)")
        }
        let lsm: Bool
        do {
            try Probes.lsm()
            lsm = true
        } catch {
            lsm = false
            logger.warning("""
                DEGRADED: this kernel refuses BPF-LSM programs (\(error)); exec and file rules will NOT be \
                enforced, network rules will. See ebguard doctor.
                """)
        }
        var configuration = Daemon.Configuration()
        configuration.stateDirectory = stateDir
        configuration.overlayDirectory = overlayDir
        if let socket { configuration.socketPath = socket }
        configuration.version = ebguardVersion
        configuration.audit = file.audit
        configuration.resolver = file.resolver
        let daemon: Daemon
        do {
            daemon = try Daemon(configuration: configuration, lsm: lsm, logger: logger)
        } catch {
            fail("\(error)")
        }
        logger.notice("daemon listening on \(configuration.socketPath)")
        // Ends once the loop stopped on SIGTERM/SIGINT and the audit trail was written and delivered.
        try await daemon.serviceGroup(logger: logger).run()
    }
}

let ebguardVersion = EbguardVersion.string
