import ArgumentParser
import EbguardEnforcement
import EbguardPolicy

/// `ebguard policy check FILE`: validate a policy and explain what it does in a few lines.
struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy file.",
        discussion: "Prints every error as FILE:LINE:COLUMN: MESSAGE and exits 1 if there is any."
    )

    @Argument(help: "The policy file.")
    var file: String

    @OptionGroup var context: PolicyContextOptions

    func run() throws {
        let policy = try PolicyLoading.load(file)
        let compiled = policy.compile(in: try context.resolve())
        // What the kernel's maps can hold is part of "valid": check it here, not at run time.
        do { _ = try PolicyMaps(compiled, policyID: 1) } catch {
            printError("\(file): cannot be enforced: \(error)")
            throw ExitCode(1)
        }
        let d = policy.defaults
        print("ok: \(policy.name) (\(policy.exec.count) exec, \(policy.file.count) file, \(policy.network.count) network rules)")
        print("  defaults: exec \(d.exec.rawValue), file \(d.file.rawValue), network \(d.network.rawValue)")
        print("  no_new_privs: \(policy.noNewPrivs); an unanswered ask becomes \(policy.onTimeout.rawValue) after \(policy.askTimeout)s")
        print("  capabilities kept: \(policy.capabilities.isEmpty ? "none (every other one is dropped, root's too)" : policy.capabilities.joined(separator: ", "))")
        print("  paths compiled for home \(compiled.context.home), workspace \(compiled.context.workspace)")
        let warnings = compiled.warnings()
        if !warnings.isEmpty {
            print("  \(warnings.count) warning\(warnings.count == 1 ? "" : "s") (on stderr)")
        }
        for warning in warnings { printError(warning.description) }
    }
}
