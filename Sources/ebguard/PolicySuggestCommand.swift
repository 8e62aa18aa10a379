import ArgumentParser
import EbguardLearn
import EbguardPolicy

/// `ebguard policy suggest`: a policy that allows what a recorded session did, and nothing more.
struct PolicySuggestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",
        abstract: "Write a policy that allows what a recorded session did, and nothing more.",
        discussion: """
            Reads the session's decisions (from the daemon's audit trail, or --from-audit FILE) and \
            writes a policy with every default deny: directories where a tree was used, ${workspace} \
            and ~ for paths, host names the resolver answered, ports and protocols as seen. What the \
            base policy (agent.yaml) denies or asks for - credentials, places where a write plants \
            code - is written commented out with the reason. Every rule says how often it was used \
            and by which programs. See docs/learn.md.
            """
    )

    @OptionGroup var source: LearnSourceOptions
    @OptionGroup var baseOptions: LearnBaseOptions
    @OptionGroup var context: PolicyContextOptions

    @Option(name: [.customShort("o"), .long], help: "Write the policy here (default: standard output).")
    var output: String?

    @Option(help: "The suggested policy's name.")
    var name: String = "learned"

    @Option(help: "Distinct paths under a directory that make it a dir/** rule.")
    var treeThreshold: Int = 3

    func validate() throws {
        guard treeThreshold >= 2 else { throw ValidationError("--tree-threshold must be at least 2") }
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw ValidationError("--name must be 1 to 64 of A-Z a-z 0-9 . _ -")
        }
    }

    func run() throws {
        let ctx = try context.resolve()
        let guards = try baseOptions.load(in: ctx)
        let trail = try source.trail()
        let generalizer = Generalizer(guards: guards, anchoring: Anchoring(ctx), treeThreshold: treeThreshold)
        let suggestion = generalizer.suggest(trail, name: name, noNewPrivs: true)
        try LearnOutput.write(suggestion.render(), to: output, context: ctx)
        let active = suggestion.rules.filter { $0.withheld == nil }.count
        printError("\(trail.observations.count) decisions of session \(trail.session): \(active) rules, \(suggestion.rules.count - active) withheld")
    }
}
