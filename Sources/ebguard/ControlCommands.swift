import ArgumentParser
import EbguardDaemon
import Foundation
import Glibc

/// `--json` and `--socket`, shared by the commands that ask the daemon.
struct DaemonConnectionOptions: ParsableArguments {
    @Option(help: "Control socket path (default: $EBGUARD_SOCKET, else /run/ebguard/ebguard.sock).")
    var socket = ControlProtocol.defaultSocketPath

    func connect() -> ControlClient {
        do { return try ControlClient(path: socket) } catch { fail(error.description) }
    }
}

/// `ebguard status`: what the daemon has loaded, what it costs, what it sees.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the daemon's programs, sessions and counters.")

    @OptionGroup var connection: DaemonConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let report: StatusReport
        do { report = try connection.connect().send(.status, expecting: StatusReport.self) } catch { fail(error.description) }
        if json { return printJSON(report) }
        print("ebguard daemon \(report.version), pid \(report.pid), up \(formatDuration(report.uptimeSeconds)), mode \(report.mode)")
        let covered = report.coverage.filter(\.value).keys.sorted().joined(separator: ", ")
        print("enforcing: \(covered.isEmpty ? "nothing" : covered)")
        print("events: \(report.eventsTotal) total, \(String(format: "%.1f", report.eventsPerSecond))/s; "
              + "lost in kernel: \(report.lostTotal)\(report.lostPerCPU.isEmpty ? "" : " (per CPU: \(report.lostPerCPU.map(String.init).joined(separator: " ")))"); "
              + "dropped for slow subscribers: \(report.subscriberDrops); subscribers: \(report.subscribers)")
        print("\nprograms (run time per call from the kernel's BPF statistics):")
        let programs = report.programs.map { program in
            [program.name, String(program.id), String(program.runCount),
             program.nanosecondsPerCall.map { String(format: "%.0f ns", $0) } ?? "-"]
        }
        printTable(header: ["PROGRAM", "ID", "CALLS", "PER CALL"], rows: programs)
        print("\nsessions:")
        printSessions(report.sessions)
        if let audit = report.audit { printAudit(audit) }
        for warning in report.warnings { print("warning: \(warning)") }
    }
}

func printAudit(_ audit: AuditReport) {
    print("\naudit log: \(audit.path)")
    var line = "  last seq \(audit.lastSeq) (on disk: \(audit.durableSeq), waiting: \(audit.pending))"
    if audit.dropped + audit.refused > 0 { line += "; lost: \(audit.dropped) at hand-over, \(audit.refused) refused" }
    print(line)
    if let error = audit.lastError { print("  last error: \(error)\(audit.diskFull ? " (disk full: records wait in memory)" : "")") }
    guard !audit.forwarders.isEmpty else { return print("  forwarding: none configured") }
    printTable(header: ["  FORWARDER", "DESTINATION", "ACKED SEQ", "LAG", "STATE"], rows: audit.forwarders.map {
        ["  " + $0.name, $0.destination, String($0.ackedSeq), String($0.lag),
         $0.lastError.map { "error: \($0)" } ?? ($0.connected ? "connected" : "idle")]
    })
    for forwarder in audit.forwarders where forwarder.skipped > 0 {
        print("  note: \(forwarder.name): \(forwarder.skipped) records rotated away before they were sent")
    }
}

/// `ebguard sessions`: the daemon's sessions.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List the sessions the daemon governs.")

    @OptionGroup var connection: DaemonConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let sessions: [SessionInfo]
        do { sessions = try connection.connect().send(.sessions, expecting: [SessionInfo].self) } catch { fail(error.description) }
        if json { return printJSON(sessions) }
        printSessions(sessions)
    }
}

func printSessions(_ sessions: [SessionInfo]) {
    guard !sessions.isEmpty else { return print("(no sessions)") }
    printTable(header: ["SESSION", "MODE", "POLICY", "USER", "PIDS", "EVENTS", "DENIED", "RUN", "STARTED"], rows: sessions.map {
        [$0.key, $0.mode == "shadow" ? "SHADOW (NOT ENFORCING)" : $0.mode == "learn" ? "LEARNING (NOT ENFORCING)" : $0.mode ?? "enforce", $0.policy, $0.user, String($0.processes),
         String($0.events), String($0.denied), $0.attached ? "attached" : "detached", $0.started]
    })
    for session in sessions { for note in session.notes { print("note: \(session.key): \(note)") } }
    for session in sessions where session.mode == "shadow" {
        print("WARNING: \(session.key) is in SHADOW mode: its policy is NOT ENFORCED (would-be denials are only reported)")
    }
    for session in sessions where session.mode == "learn" {
        print("WARNING: \(session.key) is LEARNING (ebguard run --learn): its base policy is NOT ENFORCED (everything it does is recorded)")
    }
}

func printTable(header: [String], rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            .joined(separator: "  "))
    }
}

func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self))
}

func formatDuration(_ seconds: Double) -> String {
    let total = Int(seconds)
    if total < 60 { return "\(total)s" }
    if total < 3600 { return "\(total / 60)m\(total % 60)s" }
    return "\(total / 3600)h\((total % 3600) / 60)m"
}

/// `ebguard policy apply SESSION FILE`: hot reload.
struct PolicyApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Replace a running session's policy, atomically.",
        discussion: "The new rules go in before the session switches to them; a policy with errors changes nothing."
    )

    @OptionGroup var connection: DaemonConnectionOptions
    @Argument(help: "Session (as `ebguard sessions` shows it, or its name when unique).") var session: String
    @Argument(help: "Policy file.") var file: String

    func run() throws {
        let yaml: String
        do { yaml = try String(contentsOfFile: file, encoding: .utf8) } catch { fail("cannot read \(file): \(error.localizedDescription)") }
        do {
            let info = try connection.connect().send(.apply(session: session, policy: PolicyText(source: resolvedPolicyPath(file), yaml: yaml)),
                                                     expecting: SessionInfo.self)
            print("session \(info.key) now runs under policy \(info.policy) (\(file))")
        } catch {
            fail(error.description)
        }
    }
}
