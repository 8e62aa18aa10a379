import ArgumentParser

/// The `ebguard` command: one file per subcommand, this file only lists them.
@main
struct Ebguard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ebguard",
        abstract: "Observe and enforce what a process tree may do, in the kernel, with eBPF.",
        // Shown by `ebguard --help` and as the DESCRIPTION of ebguard(1) (packaging/gen-docs).
        discussion: """
            `ebguard run -- CMD` runs CMD in a cgroup of its own under a YAML policy (ebguard-policy(5)) \
            enforced by BPF programs: execs, file access and connections. `ebguard doctor` says what \
            this kernel allows. `ebguard daemon` (the ebguard service) owns daemon sessions, streams \
            their events and holds their `ask` rules for an operator to answer (`ebguard prompt`, \
            `allow`, `deny`).

            Files: /etc/ebguard/policies/ (shipped policies; agent.yaml is the default), \
            /etc/ebguard/ebguard.yaml (the daemon's configuration), /run/ebguard/ebguard.sock (its \
            control socket), /var/log/ebguard/audit.jsonl (its audit log).
            """,
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
