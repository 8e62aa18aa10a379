import ArgumentParser
import EbguardDoctor
import Foundation

/// `ebguard doctor`: what this kernel lets ebguard do, found by trying each thing.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check, by trying, what this kernel lets ebguard enforce.",
        discussion: "Exit status: 0 full enforcement possible, 1 degraded (network enforcement and observation only), 2 unusable."
    )

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let report = Doctor.run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            struct Output: Encodable { let verdict: String; let exit_status: Int32; let summary: String; let report: DoctorReport }
            let data = try encoder.encode(Output(verdict: report.verdict.rawValue, exit_status: report.verdict.exitStatus,
                                                 summary: report.summary, report: report))
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(render(report))
        }
        if report.verdict.exitStatus != 0 { throw ExitCode(report.verdict.exitStatus) }
    }

    private func render(_ report: DoctorReport) -> String {
        let nameWidth = report.checks.map(\.name.count).max() ?? 0
        var lines = ["ebguard doctor — Linux \(report.kernel)", ""]
        for check in report.checks {
            let mark = switch check.status {
            case .ok: "ok      "
            case .degraded: "DEGRADED"
            case .fail: "FAIL    "
            }
            lines.append("\(mark)  \(check.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0))  \(check.detail)")
            if let remedy = check.remedy {
                lines.append(String(repeating: " ", count: 12 + nameWidth) + "→ " + remedy)
            }
        }
        lines.append("")
        lines.append("verdict: \(report.summary)")
        return lines.joined(separator: "\n")
    }
}
