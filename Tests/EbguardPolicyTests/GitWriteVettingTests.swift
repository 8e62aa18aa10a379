import EbguardPolicy
import Testing

/// The environment `ebguard run` gives a session: the session's git template directory and nothing risky.
private let session = [
    "HOME=/home/agent", "PATH=/usr/bin:/bin", "GIT_TEMPLATE_DIR=\(GitWriteVetting.sessionTemplateDirectory)",
]
private let url = "https://github.com/a/b.git"

/// A git exec that must be granted metadata writes, and the subcommand the grant names.
struct Granted: Sendable, CustomTestStringConvertible {
    let argv: [String], environment: [String], subcommand: String
    init(_ argv: String..., env: [String] = session, as subcommand: String) {
        (self.argv, environment, self.subcommand) = (["git"] + argv, env, subcommand)
    }
    var testDescription: String { argv.joined(separator: " ") }
}

/// A git exec that must be refused, and the text its reason must contain (what it refused).
struct Refused: Sendable, CustomTestStringConvertible {
    let argv: [String], environment: [String], names: String
    init(_ argv: String..., program: String = "git", env: [String] = session, names: String) {
        (self.argv, environment, self.names) = ([program] + argv, env, names)
    }
    var testDescription: String {
        (environment.filter { !session.contains($0) } + argv).joined(separator: " ")
    }
}

/// What `git config` may write is vetted by key, and URLs by what git would run for them: anything that
/// could make git write a setting that runs code later is refused, and the kernel then refuses the write.
struct GitWriteVettingTests {
    static let granted: [Granted] = [
        Granted("init", as: "init"),
        Granted("init", "-b", "main", "repo", as: "init"),
        Granted("clone", url, as: "clone"),
        Granted("clone", "--depth", "1", "-b", "main", url, "dir", as: "clone"),
        Granted("clone", "-bmain", "-q", "git@github.com:a/b.git", as: "clone"),  // `-b`'s value ends the group
        Granted("clone", "--recurse-submodules", "file:///srv/r.git", as: "clone"),
        Granted("-C", "sub", "remote", "add", "origin", "https://x/y.git", as: "remote"),
        Granted("remote", "add", "--mirror=fetch", "m", "ssh://git@x/y.git", as: "remote"),
        Granted("remote", "set-url", "origin", url, as: "remote"),
        Granted("remote", "-v", as: "remote"),
        Granted("remote", as: "remote"),
        Granted("remote", "rename", "origin", "upstream", as: "remote"),
        Granted("branch", "-u", "origin/main", as: "branch"),
        Granted("--no-pager", "--git-dir=.git", "--work-tree", ".", "branch", "-m", "main", as: "branch"),
        Granted("checkout", "-b", "feature", "--track", "origin/feature", as: "checkout"),
        Granted("switch", "-c", "x", as: "switch"),
        Granted("sparse-checkout", "set", "src", as: "sparse-checkout"),
        Granted("push", "-u", "origin", "main", as: "push"),
        Granted("fetch", "--prune", as: "fetch"),
        Granted("pull", "--rebase", "origin", "main", as: "pull"),
        Granted("config", "user.email", "a@b.c", as: "config"),
        Granted("config", "--local", "user.name", "A B", as: "config"),
        Granted("config", "--global", "--type=bool", "core.filemode", "false", as: "config"),
        Granted("config", "--type", "bool", "advice.detachedHead", "false", as: "config"),
        Granted("config", "--add", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*", as: "config"),
        Granted("config", "--replace-all", "remote.origin.url", url, as: "config"),
        Granted("config", "set", "user.name", "x", as: "config"),
        Granted("config", "set", "--comment=why", "--worktree", "pull.rebase", "true", as: "config"),
        Granted("config", "unset", "--all", "user.name", as: "config"),
        Granted("config", "--unset", "branch.main.merge", as: "config"),
        Granted("config", "Branch.Main.Remote", "origin", as: "config"),  // section and key are case-insensitive
        Granted("config", "--", "user.name", "x", as: "config"),
        Granted("submodule--helper", "clone", "--path", "lib", "--name", "lib", "--url", url, as: "submodule--helper"),
        Granted("submodule", "update", "--init", as: "submodule"),
    ]

    @Test(arguments: granted)
    func grantsTheMetadataWritesAgentsMake(_ git: Granted) {
        let verdict = GitWriteVetting.vet(argv: git.argv, environment: git.environment)
        #expect(verdict == .granted(subcommand: git.subcommand))
    }

    static let refused: [Refused] = [
        // argv[0] picks the builtin: `exec -a git-config /usr/bin/git core.hooksPath x` runs `git config`.
        Refused("core.hooksPath", "x", program: "git-config", names: "git-config"),
        Refused("core.hooksPath", "x", program: "/usr/lib/git-core/git-config", names: "git-config"),
        // Global options that set configuration or change what git runs.
        Refused("-c", "core.hooksPath=/tmp/h", "status", names: "-c"),
        Refused("--config-env=core.hooksPath=H", "status", names: "--config-env"),
        Refused("--exec-path=/tmp", "config", "user.name", "x", names: "--exec-path"),
        Refused("-C", names: "-C"),
        Refused(names: "`git`"),
        Refused("-C", "x", names: "`git -C x`"),
        // Configuration keys that run code, and forms that write any key or file.
        Refused("config", "core.hooksPath", "/tmp/h", names: "core.hooksPath"),
        Refused("config", "core.fsmonitor", "x", names: "core.fsmonitor"),
        Refused("config", "alias.st", "!sh", names: "alias.st"),
        Refused("config", "include.path", "/tmp/c", names: "include.path"),
        Refused("config", "includeIf.gitdir:/x.path", "/tmp/c", names: "includeIf.gitdir:/x.path"),
        Refused("config", "user.x.name", "y", names: "user.x.name"),  // user.name has no subsection
        Refused("config", "remote..url", url, names: "remote..url"),
        Refused("config", "--unset", "core.hooksPath", names: "core.hooksPath"),
        Refused("config", "set", "alias.x", "!sh", names: "alias.x"),
        Refused("config", "unset", "core.hooksPath", names: "core.hooksPath"),
        Refused("config", "--file", ".git/config", "user.name", "x", names: "--file"),
        Refused("config", "-f", "x", "user.name", "y", names: "-f"),
        Refused("config", "--fil=x", "user.name", "y", names: "--fil=x"),  // git reads it as `--file`
        Refused("config", "--system", "user.name", "y", names: "--system"),
        Refused("config", "--edit", names: "--edit"),
        Refused("config", "--rename-section", "a", "core", names: "--rename-section"),
        Refused("config", "--add", "--unset", "user.name", "x", names: "--add --unset"),
        Refused("config", "set", "--comment=x\n[core]", "user.name", "y", names: "--comment"),
        Refused("config", names: "git config"),
        // Reading needs no write.
        Refused("config", "--get", "user.name", names: "--get"),
        Refused("config", "user.name", names: "user.name"),
        Refused("config", "get", "user.name", names: "get"),
        Refused("config", "-l", names: "-l"),
        // URLs that run a program: remote-helper transports, unknown schemes, option-like, control characters.
        Refused("config", "remote.origin.url", "ext::sh", names: "ext::sh"),
        Refused("config", "branch.main.remote", "ext::sh -c x", names: "ext::sh"),
        Refused("config", "remote.origin.pushurl", "evil://h/r", names: "evil"),
        Refused("config", "remote.origin.url", "https://h/r\n[core]", names: "https://h/r\\n[core]"),  // escaped
        Refused("clone", "ext::sh -c evil", "dir", names: "ext::sh"),
        Refused("clone", "--", "-oProxyCommand=x", names: "-oProxyCommand"),
        Refused("remote", "add", "x", "ext::sh -c touch% /tmp/p", names: "ext::sh"),
        Refused("remote", "set-url", "origin", "HTTPS://h/r", names: "HTTPS"),  // runs git-remote-HTTPS
        Refused("push", "-u", "evil://h/r", "main", names: "evil"),  // recorded as branch.main.remote
        Refused("fetch", "--repo=ext::x", names: "ext::x"),
        // clone, init: configuration, templates, gitfiles and programs, however spelled.
        Refused("clone", "-c", "core.hooksPath=x", url, names: "-c"),
        Refused("clone", "--config=core.fsmonitor=x", url, names: "--config"),
        Refused("clone", "-qc", "core.hooksPath=x", url, names: "-qc"),
        Refused("clone", "--templ=/tmp/t", url, names: "--templ"),
        Refused("clone", "--template", "/tmp/t", url, names: "--template"),
        Refused("clone", "--separate", "/tmp/g", url, names: "--separate"),
        Refused("clone", "-u", "sh -c evil", url, names: "-u"),
        Refused("clone", "--upload-pack=sh -c evil", url, names: "--upload-pack"),
        Refused("init", "--separate-git-dir", "/tmp/g", names: "--separate-git-dir"),
        Refused("init", "--t=/tmp/t", names: "--t"),  // git 2.39 takes any unambiguous abbreviation
        Refused("push", "--receive-pack=evil", names: "--receive-pack"),
        Refused("push", "--exec", "evil", names: "--exec"),
        Refused("fetch", "--upload-pack", "evil", names: "--upload-pack"),
        Refused("pull", "--upload", "evil", names: "--upload"),
        Refused("submodule--helper", "config", "x", "y", names: "config"),
        Refused("remote", "frobnicate", names: "frobnicate"),
        Refused("remote", "--foo", "add", "x", url, names: "--foo"),
        // A work tree on or in a git directory: checked-out files (a committed `config`) overwrite its config.
        Refused("--work-tree=.git", "checkout", "HEAD", "--", "config", names: "--work-tree"),
        Refused("-C", ".git", "--git-dir=.", "checkout", "HEAD", "--", "config", names: "--git-dir"),
        Refused("switch", "-c", "x", env: session + ["GIT_WORK_TREE=/w/.git"], names: "GIT_WORK_TREE"),
        Refused("worktree", "add", "../wt", names: "worktree"),
        Refused("--git-dir=/tmp/r", "--work-tree=/w/.git", "init", names: "--git-dir"),
        // The environment: injected or redirected configuration, loaded code, foreign templates, written files.
        Refused("config", "user.name", "x", env: session + ["GIT_CONFIG_COUNT=1"], names: "GIT_CONFIG_COUNT"),
        Refused("status", env: session + ["GIT_CONFIG_PARAMETERS='core.hookspath'=x"], names: "GIT_CONFIG_PARAMETERS"),
        Refused("config", "--global", "user.name", "x", env: session + ["GIT_CONFIG_GLOBAL=.git/config"],
                names: "GIT_CONFIG_GLOBAL"),
        Refused("config", "user.name", "x", env: session + ["GIT_CONFIG=.git/config"], names: "GIT_CONFIG"),
        Refused("branch", "-u", "origin/main", env: session + ["LD_PRELOAD=/tmp/x.so"], names: "LD_PRELOAD"),
        Refused("branch", "-u", "origin/main", env: session + ["GIT_EXEC_PATH=/tmp"], names: "GIT_EXEC_PATH"),
        Refused("branch", "-u", "origin/main", env: session + ["GIT_EXEC_PATH=/usr/lib/git-core/"], names: "GIT_EXEC_PATH"),
        // GIT_COMMON_DIR moves where a work-tree command's repository lies, like GIT_DIR.
        Refused("checkout", "main", env: session + ["GIT_COMMON_DIR=/tmp/r/.git"], names: "GIT_COMMON_DIR"),
        Refused("switch", "main", env: session + ["GIT_COMMON_DIR=/tmp/r/.git"], names: "GIT_COMMON_DIR"),
        Refused("init", env: ["GIT_TEMPLATE_DIR=/tmp/t"], names: "GIT_TEMPLATE_DIR"),
        Refused("clone", url, env: ["HOME=/home/agent"], names: "GIT_TEMPLATE_DIR"),
        Refused("branch", "-u", "origin/main", env: session + ["GIT_TRACE=/w/.git/config"], names: "GIT_TRACE"),
        Refused("checkout", "-b", "x", env: session + ["GIT_INDEX_FILE=.git/config"], names: "GIT_INDEX_FILE"),
        // Subcommands that write no metadata get no grant.
        Refused("commit", "-m", "x", names: "git commit"),
        Refused("lfs", "install", "--local", names: "git lfs"),
        Refused("maintenance", "register", names: "git maintenance"),
        Refused("-C", "x", "gc", names: "git gc"),
    ]

    @Test(arguments: refused)
    func refusesWhatCouldPlantCode(_ git: Refused) {
        let verdict = GitWriteVetting.vet(argv: git.argv, environment: git.environment)
        guard case .refused(let reason) = verdict else {
            Issue.record("granted: \(verdict)")
            return
        }
        #expect(!reason.isEmpty)
    }

    /// A log line must say what was refused, so a refused write can be traced to its argument or variable.
    @Test(arguments: refused)
    func everyRefusalReasonNamesWhatItRefused(_ git: Refused) {
        let verdict = GitWriteVetting.vet(argv: git.argv, environment: git.environment)
        guard case .refused(let reason) = verdict else { return }  // reported by refusesWhatCouldPlantCode
        #expect(reason.contains(git.names), "\(reason)")
    }

    /// Granting nothing to a read is least privilege; the reason says so.
    @Test(arguments: [["--get", "user.name"], ["--get-regexp", "user"], ["--list"], ["user.name"], ["list"]])
    func configReadsAreRefusedAsNeedingNoWrite(_ arguments: [String]) {
        let verdict = GitWriteVetting.vet(argv: ["git", "config"] + arguments, environment: session)
        guard case .refused(let reason) = verdict else {
            Issue.record("granted: \(verdict)")
            return
        }
        #expect(reason.contains("reads only; no write needed"))
    }

    /// Only the subcommands that copy templates into a new repository need the session's template directory.
    @Test func theTemplateDirectoryIsRequiredOnlyWhereTemplatesAreCopied() {
        let bare = ["HOME=/home/agent"]
        #expect(GitWriteVetting.vet(argv: ["git", "remote", "add", "o", url], environment: bare)
            == .granted(subcommand: "remote"))
        #expect(GitWriteVetting.vet(argv: ["git", "config", "user.name", "x"], environment: bare)
            == .granted(subcommand: "config"))
        for command in ["init", "clone", "submodule", "submodule--helper"] {
            #expect(GitWriteVetting.vet(argv: ["git", command, url], environment: bare)
                == .refused("`git \(command)` copies templates into a new repository and GIT_TEMPLATE_DIR is unset"))
        }
        #expect(GitWriteVetting.vet(argv: ["git", "init"], environment: ["GIT_CONFIG_NOSYSTEM=1"] + session)
            == .granted(subcommand: "init"))
    }
}

/// A submodule's clone (`git submodule update --init`, `clone --recurse-submodules`, `submodule add`)
/// puts its git directory in the superproject's `.git/modules/NAME` (--separate-git-dir) and a gitfile
/// in the submodule's work tree pointing there. Granted only for a directory the policy guards: anywhere
/// else the gitfile would send the user's next git to a config the session can write.
struct SeparateGitDirectoryVettingTests {
    /// The command line git 2.39's `submodule--helper clone` runs, with the environment it adds.
    static func submoduleClone(_ option: [String], destination: String = "/w/top/sub") -> [String] {
        ["git", "clone", "--no-checkout", "--quiet"] + option + ["--no-single-branch", "--", "/srv/sub.git", destination]
    }

    @Test(arguments: [
        ["--separate-git-dir", "/w/top/.git/modules/sub"],
        ["--separate-git-dir=/w/top/.git/modules/sub"],
        ["--sep", "/w/top/.git/modules/sub"],  // git takes any unambiguous abbreviation
        ["--separate-git-dir", "/w/top/.git/modules/a/modules/b"],  // a submodule's submodule
        ["--separate-git-dir", "/w/top/.git/modules/lib/x"],  // a name with a slash
    ])
    func aSubmodulesCloneIntoAGuardedGitDirectoryIsGranted(_ option: [String]) {
        var asked: [String] = []
        // What `git submodule` (a script) passes on: git's own exec path, and the git directory for the clone.
        let environment = session + ["GIT_DIR=.git", "GIT_EXEC_PATH=/usr/lib/git-core", "GIT_PROTOCOL_FROM_USER=0"]
        var argv = Self.submoduleClone(option)
        argv[0] = "/usr/lib/git-core/git"
        let verdict = GitWriteVetting.vet(argv: argv, environment: environment) {
            asked.append($0)
            return true
        }
        #expect(verdict == .granted(subcommand: "clone"))
        #expect(asked == [option.count == 2 ? option[1] : String(option[0].dropFirst("--separate-git-dir=".count))])
    }

    @Test(arguments: [
        (["--separate-git-dir", "/tmp/g"], "is not a submodule's git directory"),
        (["--separate-git-dir", ".git/modules/sub"], "is not a submodule's git directory"),  // relative: cwd decides
        (["--separate-git-dir", "/w/top/.git/modules/../../x"], "is not a submodule's git directory"),
        (["--separate-git-dir", "/w/top/.git/modules/./sub"], "is not a submodule's git directory"),
        (["--separate-git-dir", "/w//top/.git/modules/sub"], "is not a submodule's git directory"),
        (["--separate-git-dir", "/w/top/.git/modules"], "is not a submodule's git directory"),
        (["--separate-git-dir", "/w/top/.git/modules/"], "is not a submodule's git directory"),
        (["--separate-git-dir", "/w/top/modules/.git/sub"], "is not a submodule's git directory"),
        (["--separate-git-dir", "/w/top/.git/modules/s\nub"], "is not a submodule's git directory"),
        (["--se", "/w/top/.git/modules/sub"], "`git clone --se`"),  // ambiguous in git (--server-option): refused as before
        (["--separate-git-dir"], "needs a value"),
    ])
    func otherGitDirectoriesAreRefused(_ option: [String], _ reason: String) {
        let argv = option == ["--separate-git-dir"] ? ["git", "clone", "/srv/sub.git", "/w/top/sub"] + option
            : Self.submoduleClone(option)
        let verdict = GitWriteVetting.vet(argv: argv, environment: session) { _ in true }
        guard case .refused(let why) = verdict else {
            Issue.record("granted: \(verdict)")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }

    @Test func aGitDirectoryThePolicyDoesNotGuardIsRefused() {
        let verdict = GitWriteVetting.vet(argv: Self.submoduleClone(["--separate-git-dir", "/w/top/.git/modules/sub"]),
                                          environment: session) { _ in false }
        guard case .refused(let why) = verdict else {
            Issue.record("granted: \(verdict)")
            return
        }
        #expect(why.contains("does not guard"), "\(why)")
    }

    /// `git init --separate-git-dir` is no submodule's: refused wherever it points.
    @Test func initKeepsRefusingSeparateGitDirectories() {
        let verdict = GitWriteVetting.vet(argv: ["git", "init", "--separate-git-dir", "/w/top/.git/modules/sub"],
                                          environment: session) { _ in true }
        #expect(verdict != .granted(subcommand: "init"))
    }

    /// agent.yaml guards the git directories of repositories under the workspace, submodules' included.
    @Test(arguments: [
        ("/home/u/ws/top/.git/modules/sub", true),
        ("/home/u/ws/a/b/.git/modules/x/modules/y", true),
        ("/home/u/ws/top/.git", true),
        ("/home/u/ws/top/sub", false),  // not a git directory's place: its config is the work tree's file
        ("/tmp/top/.git/modules/sub", false),  // outside the workspace: the session writes its config
        ("/home/u/other/.git/modules/sub", false),
    ])
    func agentPolicyGuardsTheWorkspacesGitDirectories(_ directory: String, _ guarded: Bool) throws {
        let policy = try Shipped.load("agent.yaml").compile(in: try PolicyContext(home: "/home/u", workspace: "/home/u/ws"))
        #expect(policy.guardsGitMetadata(of: directory) == guarded)
    }
}

/// `git worktree add` writes the new worktree's gitfile and `commondir` (and `move`/`repair` gitfiles),
/// sending a work tree to the repository git finds: granted only where the policy guards that repository.
struct WorktreeVettingTests {
    @Test(arguments: [
        (["worktree", "add", "../wt"], "worktree add", [String]()),
        (["worktree", "add", "-q", "-b", "feat", "../wt", "main"], "worktree add", []),
        (["worktree", "add", "-bfeat", "--detach", "/w/wt2"], "worktree add", []),
        (["-C", "a", "-C", "/w/b", "worktree", "add", "../wt"], "worktree add", ["a", "/w/b"]),
        (["-C", "", "worktree", "add", "../wt"], "worktree add", []),  // git ignores an empty -C
        (["worktree", "repair", "../wt"], "worktree repair", []),
        (["worktree", "move", "../wt", "../wt3"], "worktree move", []),
    ])
    func grantedWhereThePolicyGuardsTheRepository(_ arguments: [String], _ grant: String, _ changes: [String]) {
        var asked: [[String]] = []
        let verdict = GitWriteVetting.vet(argv: ["git"] + arguments, environment: session, guardsRepository: {
            asked.append($0)
            return true
        })
        #expect(verdict == .granted(subcommand: grant))
        #expect(asked == [changes])
    }

    @Test(arguments: [
        (["worktree", "add", "../wt"], [String](), "does not guard"),
        (["worktree", "add", ".git/wt"], [], "inside a git directory"),  // a work tree over the git directory's files
        (["worktree", "add", "../x/.git/y"], [], "inside a git directory"),
        (["worktree", "list"], [], "needs no write"),
        (["worktree", "prune"], [], "needs no write"),
        (["worktree"], [], "needs no write"),
        (["--git-dir=/tmp/r/.git", "worktree", "add", "../wt"], [], "--git-dir"),
        (["--work-tree", "/w/r", "worktree", "add", "../wt"], [], "--work-tree"),
        (["worktree", "add", "../wt"], ["GIT_COMMON_DIR=/tmp/r/.git"], "GIT_COMMON_DIR"),
        (["worktree", "add", "../wt"], ["GIT_DIR=/tmp/r/.git"], "GIT_DIR"),
        (["-c", "core.hooksPath=/tmp/h", "worktree", "add", "../wt"], [], "-c"),
    ])
    func refused(_ arguments: [String], _ environment: [String], _ reason: String) {
        let guards = reason != "does not guard"
        let verdict = GitWriteVetting.vet(argv: ["git"] + arguments, environment: session + environment,
                                          guardsRepository: { _ in guards })
        guard case .refused(let why) = verdict else {
            Issue.record("granted: \(verdict)")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }
}
