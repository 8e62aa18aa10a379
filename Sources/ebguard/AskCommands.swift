import ArgumentParser
import EbguardDaemon
import Foundation
import Glibc

extension AnswerScope: ExpressibleByArgument {}

/// `ebguard pending`: the requests waiting for a human.
struct PendingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pending", abstract: "List decisions waiting for an answer.")

    @OptionGroup var connection: DaemonConnectionOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let pending: [PendingRequest]
        do { pending = try connection.connect().send(.pending, expecting: [PendingRequest].self) } catch { fail(error.description) }
        if json { return printJSON(pending) }
        guard !pending.isEmpty else { return print("(nothing pending)") }
        printTable(header: ["ID", "SESSION", "PID", "WHAT", "RULE", "HITS", "EXPIRES"], rows: pending.map {
            ["#\($0.id)", $0.session, String($0.pid), $0.summary, [$0.rule, $0.ruleLocation].compactMap { $0 }.joined(separator: " "),
             String($0.hits), "\($0.expires) (then \($0.onTimeout))"]
        })
    }
}

/// `ebguard allow ID` / `ebguard deny ID`.
struct AnswerOptions: ParsableArguments {
    @OptionGroup var connection: DaemonConnectionOptions
    @Argument(help: "The request's id (#7 or 7).") var id: String
    @Option(help: "once (this request), session (until the session ends), always (also kept in the policy's overlay).")
    var scope: AnswerScope = .once

    func send(allow: Bool) {
        guard let number = Int(id.hasPrefix("#") ? String(id.dropFirst()) : id) else { fail("\(id) is not a request id (see ebguard pending)") }
        do {
            let request = try connection.connect().send(.answer(AnswerRequest(id: number, allow: allow, scope: scope)),
                                                        expecting: PendingRequest.self)
            print("#\(request.id) \(request.summary): \(allow ? "allowed" : "denied") (\(scope.rawValue))")
        } catch {
            fail(error.description)
        }
    }
}

struct AllowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allow", abstract: "Approve a pending request.")
    @OptionGroup var options: AnswerOptions
    func run() throws { options.send(allow: true) }
}

struct DenyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deny", abstract: "Refuse a pending request.")
    @OptionGroup var options: AnswerOptions
    func run() throws { options.send(allow: false) }
}
