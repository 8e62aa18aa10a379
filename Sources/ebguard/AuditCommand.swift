import ArgumentParser
import EbguardAudit

/// `ebguard audit`: check and export the local audit trail.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify and export the audit log.",
        subcommands: [AuditVerifyCommand.self, AuditExportCommand.self]
    )
}

/// `--log`, shared by the audit subcommands.
struct AuditLogOptions: ParsableArguments {
    @Option(name: .long, help: "The audit log (rotated files are LOG.1, LOG.2, ...).")
    var log: String = AuditLogConfiguration.defaultPath

    /// The files to read: those named, else the log and its rotated files, oldest first.
    func files(_ named: [String]) throws -> [String] {
        if !named.isEmpty { return named }
        let files = AuditLogFiles(path: log).existing()
        if files.isEmpty {
            printError("error: no audit log at \(log)")
            throw ExitCode(2)
        }
        return files
    }
}
