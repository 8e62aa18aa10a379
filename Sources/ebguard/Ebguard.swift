import ArgumentParser

/// The `ebguard` command: one file per subcommand, this file only lists them.
@main
struct Ebguard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ebguard",
        abstract: "Observe and enforce what a process tree may do, in the kernel, with eBPF.",
        version: BuildInfo.versionText,
        subcommands: [
            DoctorCommand.self,
            PolicyCommand.self,
            RunCommand.self,
            DaemonCommand.self,
            EventsCommand.self,
            StatusCommand.self,
            SessionsCommand.self,
            PendingCommand.self,
            AllowCommand.self,
            DenyCommand.self,
            PromptCommand.self,
            AuditCommand.self,
        ]
    )
}
