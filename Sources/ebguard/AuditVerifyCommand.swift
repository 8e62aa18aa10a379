import ArgumentParser
import EbguardAudit

/// `ebguard audit verify [FILE...]`: check the hash chain and name the first bad record.
struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the audit log's hash chain.",
        discussion: """
            Reads the log and its rotated files in order (or the FILEs given, oldest first) and checks \
            that no record was edited, deleted, inserted, reordered or cut off. Names the first bad \
            record as FILE:LINE (seq N). A torn last line left by a crash is reported, not failed.
            Exit status: 0 intact, 1 tampered, 2 unreadable.
            """
    )

    @OptionGroup var options: AuditLogOptions

    @Argument(help: "Log files, oldest first (default: the log and its rotated files).")
    var files: [String] = []

    func run() throws {
        let paths = try options.files(files)
        // The head checkpoint belongs to the active file: LOG.head beside the last file.
        let head = AuditHead.read(AuditLogFiles(path: paths.last!).headPath)
        let report: AuditVerifyReport
        do {
            report = try AuditVerifier.verify(files: paths, head: head)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        for line in report.rendered { print(line) }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}
