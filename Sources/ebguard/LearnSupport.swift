import ArgumentParser
import EbguardAudit
import EbguardEnforcement
import EbguardLearn
import EbguardPolicy
import Foundation

/// Where `policy suggest|replay|review` read a session's decisions from.
struct LearnSourceOptions: ParsableArguments {
    @Option(help: "The session: its name (as `ebguard run --name` gave it) or its key (name-1a2b3c4d).")
    var session: String

    @Option(name: .customLong("from-audit"), help: "Read this audit-format file (e.g. a copy of the daemon's trail) instead of the daemon's trail. Repeat for rotated files, oldest first.")
    var fromAudit: [String] = []

    @Option(help: "The daemon's audit log, read with its rotated files when --from-audit is not given.")
    var log: String = AuditLogConfiguration.defaultPath

    /// Reads the session's decisions; a bad trail or an unknown session prints the place and
    /// exits 1, having changed nothing.
    func trail() throws -> Trail {
        let files = fromAudit.isEmpty ? AuditLogFiles(path: log).existing() : fromAudit
        if files.isEmpty {
            printError("error: no audit trail at \(log) (is the daemon running? or pass --from-audit FILE)")
            throw ExitCode(1)
        }
        do {
            return try Trail.read(files: files, session: session)
        } catch {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
    }
}

/// The base policy whose deny/ask rules name the places a suggestion never opens.
struct LearnBaseOptions: ParsableArguments {
    @Option(help: "Base policy whose deny and ask rules (credentials, persistence) a suggestion never opens (default: agent.yaml, as `ebguard run` finds it).")
    var base: String?

    func load(in context: PolicyContext) throws -> Guards {
        Guards(base: try PolicyLoading.load(base ?? RunCommand.defaultPolicyPath()), context: context)
    }
}

enum LearnOutput {
    /// Checks `text` the way `policy check` does (it parses, and the kernel's maps can hold it),
    /// then writes it to `path` atomically, or to stdout for nil or `-`.
    static func write(_ text: String, to path: String?, context: PolicyContext) throws {
        let label = path ?? "<suggestion>"
        do {
            let policy = try Policy.parse(yaml: text, file: label)
            _ = try PolicyMaps(policy.compile(in: context), policyID: 1)
        } catch let error as PolicyError {
            for d in error.diagnostics { printError("internal error: the generated policy does not parse: \(d)") }
            throw ExitCode(1)
        } catch {
            printError("error: the generated policy cannot be enforced: \(error); widen or remove rules with `ebguard policy review`")
            throw ExitCode(1)
        }
        guard let path, path != "-" else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else {
            printError("error: cannot write \(tmp)")
            throw ExitCode(1)
        }
        if rename(tmp, path) != 0 {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            printError("error: cannot write \(path): \(why)")
            throw ExitCode(1)
        }
    }
}
