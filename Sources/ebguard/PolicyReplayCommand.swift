import ArgumentParser
import EbguardAudit
import EbguardLearn
import EbguardPolicy
import Foundation

/// `ebguard policy replay POLICY --session NAME`: what a candidate would have decided otherwise.
struct PolicyReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Evaluate a policy against a recorded session and print what it would decide differently.",
        discussion: """
            Uses the userspace reference matcher, the semantics the kernel's programs are tested \
            against. Prints what the policy would deny (or ask about) that went through, and what it \
            would allow that was refused. Exit status 1 when it would deny anything, 0 otherwise.
            """
    )

    @Argument(help: "The candidate policy.")
    var policy: String

    @OptionGroup var source: LearnSourceOptions
    @OptionGroup var context: PolicyContextOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let candidate = try PolicyLoading.load(policy).compile(in: try context.resolve())
        let trail = try source.trail()
        let replay = Replay(trail.observations, against: candidate)
        if json { print(Self.json(replay, session: trail.session, policy: policy)) } else { print(Self.table(replay), terminator: "") }
        if !replay.wouldDeny.isEmpty { throw ExitCode(1) }
    }

    static func table(_ replay: Replay) -> String {
        var out = "\(replay.operations) operations replayed: \(replay.unchanged) decided the same, "
            + "\(replay.wouldDeny.count) would be refused, \(replay.wouldAllow.count) would be let through\n"
        for (title, list) in [("WOULD DENY (went through)", replay.wouldDeny), ("WOULD ALLOW (was refused)", replay.wouldAllow)] where !list.isEmpty {
            out += "\n\(title)\n"
            let rows = list.map { c in
                [String(c.count), c.program, YAMLText.comment(c.object), c.candidate.description + (c.candidateLocation.map { " (\($0))" } ?? ""), c.recorded]
            }
            let header = ["COUNT", "PROGRAM", "OPERATION", "CANDIDATE", "RECORDED"]
            let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
            for row in [header] + rows {
                out += row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ") + "\n"
            }
        }
        return out
    }

    static func json(_ replay: Replay, session: String, policy: String) -> String {
        func change(_ c: Replay.Change) -> JSONValue {
            var o: [String: JSONValue] = [
                "direction": .string(c.direction.rawValue), "object": .string(c.object), "program": .string(c.program),
                "count": .int(Int64(c.count)), "recorded": .string(c.recorded), "verdict": .string(c.candidate.verdict.rawValue),
                "rule": .string(c.candidate.rule?.description ?? "default"), "first_record": .string(c.source),
            ]
            if let l = c.candidateLocation { o["rule_location"] = .string(l.description) }
            return .object(o)
        }
        let value: JSONValue = .object([
            "session": .string(session), "policy": .string(policy), "operations": .int(Int64(replay.operations)),
            "unchanged": .int(Int64(replay.unchanged)),
            "would_deny": .array(replay.wouldDeny.map(change)), "would_allow": .array(replay.wouldAllow.map(change)),
        ])
        return value.canonicalString
    }
}
