import ArgumentParser

/// `ebguard policy`: work with policy files without running anything.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, show and apply policies; suggest, replay and review them from recorded sessions.",
        subcommands: [PolicyCheckCommand.self, PolicyShowCommand.self, PolicyApplyCommand.self,
                      PolicySuggestCommand.self, PolicyReplayCommand.self, PolicyReviewCommand.self]
    )
}
