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

    func run() throws {
        let policy = try PolicyLoading.load(file)
        let compiled = policy.compile(in: try context.resolve())
        print(json ? compiled.renderJSON() : compiled.renderText(), terminator: "")
    }
}
