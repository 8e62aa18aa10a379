import ArgumentParser
import EbguardPolicy

/// `ebguard policy show FILE`: the compiled rules, as the kernel will get them.
struct PolicyShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a policy's compiled rules, one per line (or as JSON).",
        discussion: "Paths are expanded for the session user's home and the workspace; override them with --home and --workspace."
    )

    @Argument(help: "The policy file.")
    var file: String

    @OptionGroup var context: PolicyContextOptions

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(name: .customLong("explain"), help: ArgumentHelp("Print the rule that decides PATH for exec, each file access kind and a Unix socket bound there, and why.",
                                                              valueName: "PATH"))
    var explainPath: String?

    func validate() throws {
        if let explainPath, !explainPath.hasPrefix("/") {
            throw ValidationError("--explain takes an absolute path, as the kernel resolves it: '\(explainPath)'")
        }
        if explainPath != nil && json { throw ValidationError("--explain prints text; leave out --json") }
    }

    func run() throws {
        let policy = try PolicyLoading.load(file)
        let compiled = policy.compile(in: try context.resolve())
        if let explainPath {
            print(compiled.explain(path: explainPath).joined(separator: "\n"))
            return
        }
        print(json ? compiled.renderJSON() : compiled.renderText(), terminator: "")
    }
}
