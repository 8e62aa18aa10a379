import ArgumentParser

/// `ebguard policy`: work with policy files without running anything.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, show and apply policies.",
        subcommands: [PolicyCheckCommand.self, PolicyShowCommand.self, PolicyApplyCommand.self]
    )
}
