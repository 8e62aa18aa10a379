import ArgumentParser
import EbguardAudit

/// `ebguard audit export`: records as stored, or as OCSF events, one JSON object per line.
struct AuditExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print audit records as JSON Lines or OCSF events.",
        discussion: """
            --format ocsf prints every record as an OCSF 1.8.0 event: decisions and answers as Process \
            (1007), File System (1001) or Network Activity (4001), sessions as Process Activity, policy \
            changes as Entity Management (3004), daemon start/stop as Application Lifecycle (6002), lost \
            events and recoveries as Application Error (6008). See docs/audit.md.
            """
    )

    @OptionGroup var options: AuditLogOptions

    @Option(help: "Only records at or after T: RFC 3339, a date, or a duration ago (15m, 2h, 7d).")
    var since: String?

    @Option(help: "Only records of this session.")
    var session: String?

    @Option(help: "jsonl (records as stored) or ocsf.")
    var format: String = "jsonl"

    @Argument(help: "Log files, oldest first (default: the log and its rotated files).")
    var files: [String] = []

    func validate() throws {
        guard AuditExport.Format(rawValue: format) != nil else {
            throw ValidationError("--format must be jsonl or ocsf")
        }
        if let since, AuditExport.parseSince(since) == nil {
            throw ValidationError("--since \(since): expected RFC 3339 (2026-05-04T09:00:00Z), a date, or 15m/2h/7d")
        }
    }

    func run() throws {
        let filter = AuditExport.Filter(since: since.flatMap { AuditExport.parseSince($0) }, session: session)
        let summary: AuditExport.Summary
        do {
            summary = try AuditExport.run(files: try options.files(files), filter: filter,
                                          format: AuditExport.Format(rawValue: format)!) { print($0) }
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        if summary.unmapped > 0 {
            printError("note: \(summary.unmapped) matching records are of a type this version does not know and were left out")
        }
        if summary.skippedLines > 0 {
            printError("note: \(summary.skippedLines) lines were not records; run `ebguard audit verify`")
        }
    }
}
