import ArgumentParser
import EbguardDNS
import EbguardDaemon
import EbguardDoctor
import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import Foundation
import Glibc

/// `ebguard run -- CMD`: one governed session, standalone (it loads the programs itself).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in its own cgroup under a policy enforced in the kernel.",
        discussion: """
        Exit status: the command's (128+N when killed by signal N); 125 when ebguard itself \
        fails, 126 when the command cannot be executed, 127 when it is not found, 2 when \
        --require-full is given and this kernel cannot enforce exec and file rules.
        """
    )

    @Option(help: "Policy file (default: policies/agent.yaml next to ebguard, or /etc/ebguard/policies/agent.yaml).")
    var policy: String?

    @Option(help: "Session name shown in events (default: the command's name).")
    var name: String?

    @Option(help: "Run the command as this user (default: SUDO_USER, else root).")
    var user: String?

    @Flag(help: "Refuse to run when exec and file rules cannot be enforced on this kernel.")
    var requireFull = false

    @Flag(help: "Do not print denials on stderr.")
    var quiet = false

    @Flag(help: "Load and enforce without the daemon even when one is running.")
    var standalone = false

    @Flag(help: ArgumentHelp("Shadow mode: refuse nothing the policy denies or asks, report it as would_deny/would_ask.",
                             discussion: "As the policy's `mode: shadow`. Self-protection (leaving the cgroup, disarming ebguard, signals outside the session) stays enforced."))
    var shadow = false

    @Flag(help: ArgumentHelp("Learn: shadow mode over a base policy with everything the session does recorded, for `ebguard policy suggest --session NAME`.",
                             discussion: "Refuses nothing of the base policy's (self-protection stays enforced); every operation the base would allow is recorded as audit, every one it would deny or ask as would_deny/would_ask, in the daemon's audit trail. Needs the daemon (not --standalone). The base is --base, not --policy."))
    var learn = false

    @Option(help: ArgumentHelp("With --learn: the base policy (default: agent.yaml, found as --policy's default).", valueName: "policy"))
    var base: String?

    @Option(help: ArgumentHelp("DNS server the session's resolver forwards allowed names to, ADDR or ADDR:PORT ([V6]:PORT).",
                               discussion: "Default: resolver.upstream in /etc/ebguard/ebguard.yaml, else the first nameserver of /etc/resolv.conf. Standalone sessions only; the daemon's sessions use the daemon's setting."))
    var resolverUpstream: String?

    @Option(help: ArgumentHelp("Configuration file whose resolver: section standalone sessions use.",
                               discussion: "Default: /etc/ebguard/ebguard.yaml when it exists (see packaging/ebguard.yaml)."))
    var config: String?

    @Argument(parsing: .postTerminator, help: "The command to govern, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. ebguard run -- bash") }
        guard geteuid() == 0 else { throw ValidationError("ebguard run needs root (sudo) to load BPF programs and create cgroups") }
        if let name, name.isEmpty || name.contains("/") || name.count > 64 {
            throw ValidationError("--name must be 1-64 characters without '/'")
        }
        try Self.validateLearn(learn: learn, base: base, policy: policy, standalone: standalone)
        if let resolverUpstream {
            do { _ = try DNSUpstream(parsing: resolverUpstream) } catch {
                throw ValidationError("--resolver-upstream: \(error)")
            }
        }
    }

    /// `--learn`'s arguments. Its policy is named `--base` (what suggestions are checked against
    /// too), never `--policy`, so that nobody reads a learning session as enforcing a policy; and
    /// its record is the daemon's audit trail, which a standalone session does not write.
    static func validateLearn(learn: Bool, base: String?, policy: String?, standalone: Bool) throws {
        if base != nil && !learn { throw ValidationError("--base names the policy --learn learns over; add --learn, or use --policy to enforce it") }
        guard learn else { return }
        if policy != nil { throw ValidationError("--learn takes its base policy as --base POLICY, not --policy (nothing is enforced)") }
        if standalone {
            throw ValidationError("--learn records the session in the daemon's audit trail, which a standalone session does not write; "
                                  + "run it through the daemon (ebguard daemon), without --standalone")
        }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let identity: UserIdentity
        var viaSudo = false
        do {
            if let user {
                identity = try UserIdentity.named(user)
            } else {
                (identity, viaSudo) = try UserIdentity.invoking(environment: environment)
            }
        } catch {
            fail("\(error)")
        }
        if user == nil && !viaSudo && identity.uid == 0 {
            warn("running the command as root (no SUDO_USER); use sudo or --user to run it as yourself")
        }

        let policyPath = (learn ? base : policy) ?? Self.defaultPolicyPath()
        let workspace = FileManager.default.currentDirectoryPath
        let context: PolicyContext
        do { context = try PolicyContext(home: identity.home, workspace: workspace) } catch { fail("\(error)") }

        // The connection that finds the daemon listening is the session's own (--learn is never
        // standalone: validate refuses it).
        let daemon = standalone ? nil : try? ControlClient()
        var parsed: Policy?
        let daemonSession: DaemonSessionClient?
        var privileges: DaemonSessionClient.CommandPrivileges?
        if let daemon {
            // Read once: what the daemon enforces and what this process applies itself
            // (no_new_privs, capabilities) come from the same text.
            let yaml = Self.readPolicy(policyPath)
            let request = SessionRequest(name: name ?? Self.sessionName(command[0]),
                                         policy: PolicyText(source: resolvedPolicyPath(policyPath), yaml: yaml),
                                         home: identity.home, workspace: workspace, uid: identity.uid, user: identity.name,
                                         quiet: quiet, command: command, shadow: shadow ? true : nil, learn: learn ? true : nil)
            let registered = DaemonSessionClient.register(request, on: daemon, requireFull: requireFull, quiet: quiet) {
                () throws(PolicyError) in try Policy.parse(yaml: yaml, file: policyPath)
            }
            daemonSession = registered.session
            privileges = registered.privileges
        } else {
            do {
                parsed = try Policy.load(path: policyPath)
            } catch {
                for diagnostic in error.diagnostics { warn(diagnostic.description) }
                throw ExitCode(125)
            }
            if learn {
                fail("--learn records the session in the daemon's audit trail, and no daemon is listening at "
                     + "\(ControlProtocol.defaultSocketPath): start it (ebguard daemon, or systemctl start ebguard)")
            }
            daemonSession = nil
        }
        if learn, let daemonSession, daemonSession.info.mode != "learn" {
            // A daemon that predates --learn ignores the field and would enforce the base instead.
            daemonSession.finish(exitStatus: 125)
            fail("the daemon does not support --learn (it reports mode \(daemonSession.info.mode ?? "none")); upgrade it")
        }
        // The daemon compiles what it installs; only a session of our own needs the compiled form.
        var compiled = daemonSession == nil ? parsed!.compile(in: context) : nil
        if shadow { compiled?.mode = .shadow }
        // A daemon session's mode is the daemon's (its policy's `mode:` included).
        let shadowMode = shadow || parsed?.mode == .shadow || daemonSession?.info.mode == "shadow"
        let noNewPrivileges = privileges?.noNewPrivs ?? parsed!.noNewPrivs
        let keptCapabilities = Capability.mask(privileges?.capabilities ?? parsed!.capabilities)
        // Neither form is kept longer than needed: with a large policy they are most of our memory.
        parsed = nil
        let standaloneSession = compiled.map(startStandalone)
        let sessionName = daemonSession?.info.key ?? standaloneSession!.session.name
        if learn {
            // Loud whatever --quiet says: nobody may mistake this session for a governed one.
            warn("LEARNING: session \(sessionName) is NOT ENFORCING its base policy \(policyPath): everything it does is "
                 + "recorded (allowed: audit; what the base would deny or ask: would_deny/would_ask). Self-protection stays "
                 + "enforced. Afterwards: ebguard policy suggest --session \(sessionName)")
        } else if shadowMode {
            // Loud whatever --quiet says: nobody may mistake this session for a governed one.
            warn("SHADOW MODE: session \(sessionName) is NOT ENFORCING its policy: what it would deny or ask is "
                 + "allowed and reported as would_deny/would_ask. Self-protection stays enforced.")
        }
        let cgroup = daemonSession.map { Cgroup(path: $0.info.cgroup) } ?? standaloneSession!.session.cgroup

        var childEnvironment = environment.filter { !$0.key.hasPrefix("SUDO_") }
        childEnvironment["HOME"] = identity.home
        childEnvironment["USER"] = identity.name
        childEnvironment["LOGNAME"] = identity.name
        childEnvironment["EBGUARD_SESSION"] = sessionName
        // Hook directories are a persistence spot the shipped policies fence off; an empty
        // template keeps `git init` and `git clone` from writing sample hooks there.
        if childEnvironment["GIT_TEMPLATE_DIR"] == nil, let empty = Self.emptyGitTemplate() {
            childEnvironment["GIT_TEMPLATE_DIR"] = empty
        }

        let ring = standaloneSession.flatMap {
            StandaloneEvents(session: $0.session, policy: compiled!.heldExecRules, enforcer: $0.enforcer, quiet: quiet,
                             home: identity.home).reader()
        }
        compiled = nil
        daemonSession?.startPrinting()
        // Parsing and compiling a large policy leaves most of its memory free but held by malloc;
        // the session may run for hours, so hand it back before it starts.
        ProcessMemory.releaseFree()
        var spawn = SpawnRequest(executable: command[0], arguments: command, environment: childEnvironment,
                                 workingDirectory: workspace, user: identity.uid == 0 && user == nil ? nil : identity,
                                 noNewPrivileges: noNewPrivileges)
        // Root in a session keeps only the capabilities the policy names (`capabilities:`).
        spawn.keptCapabilities = keptCapabilities
        let lostBefore = standaloneSession.flatMap { try? $0.enforcer.lostEvents().reduce(0, +) }
        let status = GovernedCommand(cgroup: cgroup, ring: ring).run(spawn)
        // The kernel counts what no ring had room for, for every session together (eg_lost):
        // the summary says how many went unreported while this one ran.
        if let lostBefore, let lostAfter = try? standaloneSession!.enforcer.lostEvents().reduce(0, +),
           lostAfter > lostBefore {
            warn("\(lostAfter - lostBefore) events were lost while this session ran (ring buffers full): "
                 + "enforced, but not reported above")
        }
        standaloneSession?.session.end()
        standaloneSession?.resolver?.stop()
        daemonSession?.finish(exitStatus: status)
        throw ExitCode(status)
    }

    /// Loads the programs (if this build's are not pinned yet) and creates the session itself.
    private func startStandalone(_ compiled: CompiledPolicy) -> (session: Session, enforcer: Enforcer, resolver: SessionResolver?) {
        let lsmWorks: Bool
        do {
            try Probes.lsm()
            lsmWorks = true
        } catch {
            lsmWorks = false
            if requireFull {
                warn("--require-full: this kernel cannot enforce exec and file rules (\(error.localizedDescription)); see ebguard doctor")
                Foundation.exit(2)
            }
        }

        let enforcer: Enforcer
        let session: Session
        var resolver: SessionResolver?
        do {
            enforcer = try Enforcer()
            try enforcer.ensureLoaded(lsm: lsmWorks)
            let settings = try resolverSettings()
            let (names, quiet) = (compiled.hostRulesOnly, quiet)
            // A shadow session's unheld execs are judged from its process events (UnheldExecs).
            session = try Session(name: name ?? Self.sessionName(command[0]), policy: compiled, enforcer: enforcer,
                                  auditAllows: false, processEvents: compiled.mode == .shadow, hostLimits: settings.limits, resolver: { _, hosts in
                // No one can answer an ask here: a name an ask rule covers is refused, and says so.
                let gate = HostGate(policy: names, hosts: hosts, ask: nil) { event in
                    if !quiet && (event.blocked || event.verdict != .allow || !event.flags.isEmpty) { warn(event.message) }
                }
                let started = try SessionResolver(upstream: settings.upstream, gate: gate, limits: settings.dnsLimits)
                resolver = started
                return started.port
            })
        } catch {
            fail("\(error)")
        }
        if !enforcer.coverage.execAndFile {
            let why = lsmWorks ? "this build carries no exec/file programs" : "this kernel refuses BPF-LSM programs"
            warn("""
            DEGRADED: \(why), so exec and file rules are NOT enforced \
            (exec is only observed); network rules are enforced. Run `ebguard doctor` for the remedy, \
            or pass --require-full to refuse to run like this.
            """)
        }

        return (session, enforcer, resolver)
    }

    /// The resolver's settings: ebguard.yaml's `resolver:` section, `--resolver-upstream` first.
    private func resolverSettings() throws -> ResolverSettings {
        var settings = try DaemonConfigFile.load(config ?? DaemonConfigFile.defaultPath, required: config != nil).resolver
        if let resolverUpstream { settings.upstream = try DNSUpstream(parsing: resolverUpstream) }
        return settings
    }

    /// The policy file's text; exits 125 with what `Policy.load` says of a file that is missing,
    /// unreadable or not UTF-8.
    static func readPolicy(_ path: String) -> String {
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            return text
        }
        do { _ = try Policy.load(path: path) } catch {
            for diagnostic in error.diagnostics { warn(diagnostic.description) }
            Foundation.exit(125)
        }
        fail("\(path): changed while it was read; try again")
    }

    static func defaultPolicyPath() -> String {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let beside = executable.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies/agent.yaml").path
        if FileManager.default.fileExists(atPath: beside) { return beside }
        return "/etc/ebguard/policies/agent.yaml"
    }

    /// A root-owned, empty, read-only directory, shared by sessions.
    static func emptyGitTemplate() -> String? {
        let path = "/run/ebguard/git-template"
        mkdir("/run/ebguard", 0o755)
        if mkdir(path, 0o555) != 0 && errno != EEXIST { return nil }
        return path
    }

    static func sessionName(_ command: String) -> String {
        let base = command.split(separator: "/").last.map(String.init) ?? "session"
        let cleaned = base.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        return cleaned.isEmpty ? "session" : String(cleaned.prefix(32))
    }
}

func warn(_ message: String) {
    FileHandle.standardError.write(Data("ebguard: \(message)\n".utf8))
}

func fail(_ message: String) -> Never {
    warn(message)
    Foundation.exit(125)
}
