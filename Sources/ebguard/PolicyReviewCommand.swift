import ArgumentParser
import EbguardLearn
import EbguardPolicy
import Foundation

/// `ebguard policy review`: the suggestions one by one, then an ordinary policy file.
struct PolicyReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Walk a session's suggested rules one by one and write the policy you chose.",
        discussion: """
            For each suggested rule: (a)llow, (d)eny, (w)iden to the parent directory, (p)attern \
            (type a path pattern), (s)kip, (f)inish (the rest as suggested), (q)uit without writing. \
            Allowing a rule that was withheld (credentials, persistence) asks once more. Reads \
            answers line by line from standard input, so it can be scripted.
            """
    )

    @OptionGroup var source: LearnSourceOptions
    @OptionGroup var baseOptions: LearnBaseOptions
    @OptionGroup var context: PolicyContextOptions

    @Option(name: [.customShort("o"), .long], help: "The policy file to write.")
    var output: String

    @Option(help: "The policy's name.")
    var name: String = "reviewed"

    func run() throws {
        let ctx = try context.resolve()
        let guards = try baseOptions.load(in: ctx)
        let trail = try source.trail()
        let anchoring = Anchoring(ctx)
        let suggestion = Generalizer(guards: guards, anchoring: anchoring).suggest(trail, name: name)
        var review = Review(suggestion, anchoring: anchoring)
        say("\(suggestion.rules.count) suggested rules from session \(trail.session)\n")
        while !review.isDone {
            say(review.prompt())
            guard let line = readLine() else {
                say("\nend of input: nothing written\n")
                throw ExitCode(1)
            }
            if let message = review.handle(line) { say(message + "\n") }
        }
        guard review.state == .finished else {
            say(review.prompt() + "\n")
            throw ExitCode(1)
        }
        try LearnOutput.write(review.result(name: name, session: trail.session, guards: guards).render(), to: output, context: ctx)
        say("wrote \(output): \(review.chosen.count) rules\n")
    }

    /// Unbuffered, so a prompt shows before the answer is read (a terminal, tmux, a pipe).
    private func say(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
}
