import ArgumentParser
import EbguardDaemon
import Foundation
import Glibc

/// `ebguard events`: the daemon's live stream, as a table or JSON lines (docs/events.md).
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show what governed sessions did and what ebguard decided.",
        discussion: """
        Without --follow, prints the recent events the daemon remembers (up to 4096, or those \
        within --since) and exits. With --follow, keeps printing new events.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }

    @OptionGroup var connection: DaemonConnectionOptions
    @Flag(name: .shortAndLong, help: "Keep printing new events.") var follow = false
    @Option(help: "Only these sessions (name or key; comma-separated).") var session: String?
    @Option(help: "Only these kinds: exec,file,network,tamper,process,session,decision.") var kind: String?
    @Option(help: "Only these verdicts: allow,audit,ask,deny.") var verdict: String?
    @Option(help: "Replay events of the last DURATION (e.g. 30s, 5m, 2h).") var since: String?
    @Option(name: .short, help: "Output: table or json.") var output: Format = .table

    func validate() throws {
        for kind in list(kind) where GovernedEvent.Kind(rawValue: kind) == nil {
            throw ValidationError("unknown kind '\(kind)'; one of \(GovernedEvent.Kind.allCases.map(\.rawValue).joined(separator: ","))")
        }
        for verdict in list(verdict) where !["allow", "audit", "ask", "deny"].contains(verdict) {
            throw ValidationError("unknown verdict '\(verdict)'; one of allow,audit,ask,deny")
        }
        if let since, Self.seconds(since) == nil {
            throw ValidationError("--since \(since): give a duration like 90s, 5m, 2h or 1d")
        }
    }

    /// JSON output: events go out exactly as the daemon wrote them, never re-encoded.
    private func passThrough(_ client: ControlClient) {
        var batch: [UInt8] = []
        var ended = false
        while let line = client.nextLine() {
            if ControlClient.isEvent(line) {
                batch += line
                batch.append(UInt8(ascii: "\n"))
            } else if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] {
                if let notice = object["notice"] as? String { FileHandle.standardError.write(Data("ebguard: \(notice)\n".utf8)) }
                if object["end"] as? Bool == true {
                    ended = true
                    break
                }
            }
            if !client.hasBufferedLine || batch.count > 1 << 20 {
                FileHandle.standardOutput.write(Data(batch))
                batch.removeAll(keepingCapacity: true)
            }
        }
        FileHandle.standardOutput.write(Data(batch))
        if !ended { fail("the daemon went away") }
    }

    private func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let value = Double(text), value >= 0 { return value }
        guard let unit = text.last, let scale = units[unit], let value = Double(text.dropLast()), value >= 0 else { return nil }
        return value * scale
    }

    func run() throws {
        let client = connection.connect()
        let filter = EventFilter(sessions: list(session), kinds: list(kind), verdicts: list(verdict),
                                 sinceSeconds: since.flatMap(Self.seconds) ?? (follow ? nil : 1e9), follow: follow)
        do { _ = try client.send(.subscribe(filter), expecting: [String: Bool].self) } catch { fail(error.description) }
        let color = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
        // Written as soon as the daemon's burst is read: a pipe into jq or a test sees each
        // event as it happens, in one write per burst rather than one per line.
        func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        if output == .table { emit(EventTable.header) }
        if output == .json { return passThrough(client) }
        while let item = client.next() {
            switch item {
            case .event(let event, let line):
                emit(output == .json ? line : EventTable.row(event, color: color))
            case .notice(let text):
                if output == .json {
                    FileHandle.standardError.write(Data("ebguard: \(text)\n".utf8))
                } else {
                    emit("# \(text)")
                }
            case .end:
                return
            }
        }
        if follow { fail("the daemon went away") }
    }
}

/// One aligned line per event.
enum EventTable {
    static let header = line(["TIME", "SESSION", "PID", "COMM", "KIND", "VERDICT", "OBJECT", "RULE"])

    static func line(_ fields: [String]) -> String {
        let widths = [12, 24, 7, 15, 8, 7]
        return fields.enumerated().map { index, field in
            index < widths.count ? field.padding(toLength: max(widths[index], field.count), withPad: " ", startingAt: 0) : field
        }.joined(separator: " ")
    }

    static func row(_ event: GovernedEvent, color: Bool) -> String {
        let time = event.time.split(separator: "T").last.map { String($0.dropLast()) } ?? event.time
        let verdict = event.blocked && event.verdict != .deny ? "\(event.verdict.rawValue)!" : event.verdict.rawValue
        var object = event.object
        if event.kind == .process || event.kind == .session || event.kind == .decision { object = event.message }
        else if !event.detail.isEmpty && event.kind != .exec { object += " (\(event.detail))" }
        let rule = event.rule.map { rule in event.ruleLocation.map { "\(rule) \($0)" } ?? rule } ?? (event.kind == .session ? "" : "default")
        let text = line([time, event.session.isEmpty ? "-" : event.session, String(event.pid), event.comm, event.kind.rawValue,
                         verdict, object, rule])
        guard color else { return text }
        // Shadow sessions' would-be denials in magenta: let through, unlike red refusals.
        let code = event.blocked || event.verdict == .deny ? "31" : event.verdict == .ask ? "33" : event.verdict == .audit ? "36"
            : event.verdict == .wouldDeny || event.verdict == .wouldAsk ? "35" : "0"
        return code == "0" ? text : "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}
