/// Whether a git command line may write repository metadata (`.git/config`, `config.worktree`, gitfiles).
///
/// A governed agent must not plant code that runs later, outside its session, through a repository's
/// settings (core.hooksPath, core.fsmonitor, alias.*, include.path, remote-helper URLs, ...). The kernel
/// refuses writes to those files from every process of a session except a `git` exec that this vetting
/// granted: its argv and environment are read from /proc while the exec is held stopped.
///
/// `granted` means no argument or environment variable can make that git write a setting that runs code:
/// the subcommand writes only safe settings, and its options and URLs are checked. Anything unknown or
/// unclear is `refused`; the kernel then refuses the write and git fails, which is the safe failure.
/// Written against git 2.39 (Debian 12); also reads the newer `git config set/unset` syntax.
public enum GitWriteVetting {
    public enum Verdict: Sendable, Equatable {
        case granted(subcommand: String)
        /// Why, in one short sentence for logs, naming the argument or variable refused.
        case refused(String)
    }

    /// Where Debian's git keeps the programs it runs as its own (`git --exec-path`).
    public static let gitExecPath = "/usr/lib/git-core"

    /// The template directory `ebguard run` gives every session (GIT_TEMPLATE_DIR).
    public static let sessionTemplateDirectory = "/run/ebguard/git-template"

    /// `argv` as /proc/PID/cmdline gives it (argv[0] included); `environment` as /proc/PID/environ gives it
    /// ("KEY=value" strings). `guardsGitDirectory` says whether the policy guards the git directory at an
    /// absolute path as it guards the repositories it protects (its config behind a `unless: git` deny):
    /// only such a directory may be a clone's `--separate-git-dir`, which a submodule's clone names.
    /// `guardsRepository` says the same of the repository git finds from the process's working directory
    /// after the `-C` changes given (in order): only there may `git worktree add`, `move` and `repair`
    /// write the gitfiles and commondir that send a work tree to it.
    ///
    /// A granted `worktree` names its action: `.granted(subcommand: "worktree add")`.
    public static func vet(argv: [String], environment: [String],
                           guardsGitDirectory: (String) -> Bool = { _ in false },
                           guardsRepository: ([String]) -> Bool = { _ in false }) -> Verdict {
        do { return .granted(subcommand: try decide(argv, environment, guardsGitDirectory, guardsRepository)) } catch {
            return .refused(error.reason)
        }
    }

    struct Refusal: Error {
        let reason: String
        /// Control characters of quoted arguments are escaped: a reason is one log line.
        init(_ reason: String) {
            self.reason = reason.unicodeScalars.map { isControl($0) ? $0.escaped(asASCII: true) : String($0) }.joined()
        }
    }

    static func decide(_ argv: [String], _ environment: [String],
                       _ guardsGitDirectory: (String) -> Bool = { _ in false },
                       _ guardsRepository: ([String]) -> Bool = { _ in false }) throws(Refusal) -> String {
        // git runs builtin NAME when argv[0] is `git-NAME`: `exec -a git-config git core.hooksPath x`.
        let program = argv.first ?? ""
        guard program.split(separator: "/", omittingEmptySubsequences: false).last == "git" else {
            throw Refusal("argv[0] `\(program)` is not `git`; git picks a builtin from `git-NAME`")
        }
        for entry in environment {
            let name = variableName(entry)
            if let why = environmentRefusal(name, entry.dropFirst(name.count + 1)) { throw Refusal("`\(name)` \(why)") }
        }
        let variables = Set(environment.map(variableName))
        let (globals, changes, command, arguments) = try subcommand(of: argv)
        guard let rules = subcommands[command] else {
            throw Refusal("`git \(command)` does not need to write repository metadata")
        }
        if rules.copiesTemplates, !variables.contains("GIT_TEMPLATE_DIR") {
            throw Refusal("`git \(command)` copies templates into a new repository and GIT_TEMPLATE_DIR is unset")
        }
        // Checked-out files land on a git directory's `config` when it is the work tree (`--work-tree=.git`,
        // `-C .git --git-dir=.`) or a path inside it (`worktree add .git/worktrees/x` holds config.worktree).
        let placed = globals.first { $0 == "--git-dir" || $0 == "--work-tree" }
            ?? ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR"].first(where: variables.contains)
        if rules.usesWorkTree, let placed {
            throw Refusal("`\(placed)` can put the work tree of `git \(command)` on a git directory")
        }
        switch command {
        case "config": try vetConfig(arguments)
        case "remote": try vetRemote(arguments)
        default:
            let operands = try scan(arguments, rules, command: command, guardsGitDirectory: guardsGitDirectory)
            if let first = operands.first, let why = rules.refusedActions[first] {
                throw Refusal("`git \(command) \(first)` \(why)")
            }
            if rules.usesWorkTree, let inside = operands.first(where: { $0.split(separator: "/").contains(".git") }) {
                throw Refusal("`\(inside)` lies inside a git directory, whose config a work tree there can overwrite")
            }
            if command == "worktree" {
                // Its gitfiles and commondir send a work tree to this repository: one the policy guards.
                guard let action = operands.first, worktreeActions.contains(action) else {
                    throw Refusal("`git worktree \(operands.first ?? "")` needs no write of repository metadata")
                }
                guard guardsRepository(changes) else {
                    throw Refusal("`git worktree \(action)` works on a repository the policy does not guard")
                }
                return "worktree \(action)"
            }
        }
        return command
    }

    /// `git worktree` actions that write gitfiles (and, `add`, a commondir); the others need no grant.
    static let worktreeActions: Set<String> = ["add", "move", "repair"]

    // MARK: Environment

    static func variableName(_ entry: String) -> String { String(entry.prefix { $0 != "=" }) }

    static func environmentRefusal(_ name: String, _ value: Substring) -> String? {
        switch name {
        // Only drops /etc/gitconfig from what git reads.
        case "GIT_CONFIG_NOSYSTEM": return nil
        // Templates (hooks, a `config` file) are copied into every new repository.
        case "GIT_TEMPLATE_DIR":
            return value == sessionTemplateDirectory ? nil : "is not the session's template directory"
        // git runs `git-NAME` programs and remote helpers from there. Its own, which git exports to the
        // scripts it runs (`git submodule`) and so to the gits they start, changes nothing.
        case "GIT_EXEC_PATH": return value == gitExecPath ? nil : "changes which programs git runs as its own"
        // git writes its index to the file named, a protected one included.
        case "GIT_INDEX_FILE": return "makes git write its index to the file it names"
        // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT: code loaded into git itself.
        case _ where name.hasPrefix("LD_"): return "changes the code the loader maps into git"
        // GIT_CONFIG_PARAMETERS, _COUNT, _KEY_n, _VALUE_n inject settings; GIT_CONFIG_GLOBAL, GIT_CONFIG redirect.
        case _ where name.hasPrefix("GIT_CONFIG"): return "injects or redirects configuration"
        // An absolute path (or af_unix:/path) makes git append its traces to that file.
        case _ where name.hasPrefix("GIT_TRACE") && value.contains("/"):
            return "makes git append traces to the file it names"
        default: return nil
        }
    }

    // MARK: Global options

    /// Global options that change neither configuration nor which programs git runs.
    static let globalFlags: Set<String> = [
        "--no-pager", "-P", "-p", "--paginate", "--no-replace-objects", "--literal-pathspecs", "--glob-pathspecs",
        "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--bare",
    ]
    /// Global options with a value (`--opt=v` or `--opt v`; `-C v` only): where git works, not what it runs.
    static let globalValued: Set<String> = ["-C", "--git-dir", "--work-tree", "--namespace"]
    /// Why notable refused global options are refused; any other option is refused as unknown.
    static let globalRefusals: [String: String] = [
        "-c": "sets configuration for the command",
        "--config-env": "sets configuration for the command from the environment",
        "--exec-path": "changes which programs git runs as its own",
    ]

    /// The global options' names, the `-C` directories in order, the subcommand and its arguments.
    static func subcommand(of argv: [String]) throws(Refusal) -> ([String], [String], String, ArraySlice<String>) {
        var index = 1, globals: [String] = [], changes: [String] = []
        while index < argv.count, argv[index].hasPrefix("-") {
            let option = argv[index], name = String(option.prefix { $0 != "=" })
            if globalFlags.contains(option) {
                index += 1
            } else if !globalValued.contains(name) {
                throw Refusal("`\(option)` \(globalRefusals[name] ?? "is not a global option ebguard grants")")
            } else if name != option, name != "-C" {
                index += 1  // --git-dir=DIR
            } else if name == option, index + 1 < argv.count {
                if name == "-C", !argv[index + 1].isEmpty { changes.append(argv[index + 1]) }  // git ignores `-C ""`
                index += 2  // -C DIR, --git-dir DIR
            } else {
                throw Refusal("`\(option)` needs a separate value")
            }
            globals.append(name)
        }
        guard index < argv.count else { throw Refusal("`\(argv.joined(separator: " "))` names no subcommand") }
        return (globals, changes, argv[index], argv[(index + 1)...])
    }

    // MARK: Subcommands

    /// What a granted subcommand refuses among its arguments.
    struct Rules {
        /// Long options refused, with why; any unambiguous abbreviation git accepts (`--t` for `--template`) too.
        var refusedLong: [String: String] = [:]
        /// Short options refused, alone or in a group (`-qc`), with why.
        var refusedShort: [Character: String] = [:]
        /// Short options whose value is the rest of their group (`-bmain`): letters after them are not options.
        var valueShort: Set<Character> = []
        /// Whether every operand and `--opt=value` may name a repository, so is checked as a URL.
        var checksURLs = false
        /// Whether it copies the template directory into a new repository (GIT_TEMPLATE_DIR required).
        var copiesTemplates = false
        /// Whether it writes tracked files into a work tree (or, for init, records one in core.worktree), so
        /// where that lies must be git's own choice.
        var usesWorkTree = false
        /// First operands refused, with why.
        var refusedActions: [String: String] = [:]
        /// A long option (given in full or from its third letter on) whose value names a git directory
        /// the command points a gitfile at: granted only for one the policy guards (`guardedGitDirectory`).
        var gitDirectoryLong: String? = nil
    }

    static let template = "copies a template directory's hooks and config"
    static let gitfile = "writes a gitfile pointing at any git directory"
    static let program = "names a program git runs"
    static let setsConfig = "sets configuration in the new repository"

    /// The builtins whose writes to repository metadata are limited to safe settings (aliases never shadow them).
    static let subcommands: [String: Rules] = [
        // Writes core.* defaults, and core.worktree for an explicit work tree; templates and gitfiles are the risks.
        "init": Rules(refusedLong: ["template": template, "separate-git-dir": gitfile], valueShort: ["b"],
                      copiesTemplates: true, usesWorkTree: true),
        // Writes remote.origin.* and branch.*; `-c` writes any setting, `-u` a program run on fetch. A
        // submodule's clone puts its git directory in the superproject's .git/modules (--separate-git-dir).
        "clone": Rules(refusedLong: ["config": setsConfig, "template": template, "separate-git-dir": gitfile,
                                     "upload-pack": program],
                       refusedShort: ["c": setsConfig, "u": program], valueShort: ["b", "o", "j"],
                       checksURLs: true, copiesTemplates: true, gitDirectoryLong: "separate-git-dir"),
        // Sub-subcommands are vetted by vetRemote.
        "remote": Rules(),
        // Writes only branch.*.
        "branch": Rules(),
        // Write branch.* and core.sparseCheckout*.
        "checkout": Rules(usesWorkTree: true), "switch": Rules(usesWorkTree: true),
        "sparse-checkout": Rules(usesWorkTree: true),
        // Gitfiles, and (add) the new worktree's commondir, written directly: the kernel lets only a vetted
        // `worktree add` do that (EG_HELD_GIT_WORKTREE); its checkout is a `git reset --hard` of its own.
        "worktree": Rules(valueShort: ["b", "B"], usesWorkTree: true),
        // `-u`/`--set-upstream` records the repository argument as branch.*.remote, so it is a URL.
        "push": Rules(refusedLong: ["receive-pack": program, "exec": program], checksURLs: true),
        "fetch": Rules(refusedLong: ["upload-pack": program], checksURLs: true),
        "pull": Rules(refusedLong: ["upload-pack": program], checksURLs: true),
        // Write submodule.*, core.worktree and gitfiles; the clones and checkouts they run are vetted on their own.
        "submodule": Rules(copiesTemplates: true),
        "submodule--helper": Rules(copiesTemplates: true, refusedActions: ["config": "writes any submodule setting"]),
        // Vetted by key in vetConfig.
        "config": Rules(),
    ]

    /// Checks `arguments` against `rules`; returns the operands (everything after `--` is one).
    static func scan(_ arguments: ArraySlice<String>, _ rules: Rules, command: String,
                     guardsGitDirectory: (String) -> Bool = { _ in false }) throws(Refusal) -> [String] {
        var operands: [String] = [], optionsEnded = false, index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if optionsEnded || argument == "-" || !argument.hasPrefix("-") {
                operands.append(argument)
            } else if argument == "--" {
                optionsEnded = true
            } else if argument.hasPrefix("--") {
                let name = argument.dropFirst(2).prefix { $0 != "=" }
                // From its third letter on, where git reads no other option into it (`--se` is ambiguous).
                if let option = rules.gitDirectoryLong, name.count >= 3, option.hasPrefix(name) {
                    var value = String(argument.dropFirst(name.count + 3))
                    if name.count + 2 == argument.count {
                        guard index < arguments.endIndex else { throw Refusal("`git \(command) \(argument)` needs a value") }
                        (value, index) = (arguments[index], index + 1)
                    }
                    try guardedGitDirectory(value, command: command, option: option, guards: guardsGitDirectory)
                    continue
                }
                if !name.isEmpty, let refused = rules.refusedLong.first(where: { $0.key.hasPrefix(name) }) {
                    throw Refusal("`git \(command) \(argument)` (`--\(refused.key)`) \(refused.value)")
                }
                if rules.checksURLs, name.count + 2 < argument.count {
                    try checkURL(String(argument.dropFirst(name.count + 3)))
                }
            } else {
                for letter in argument.dropFirst() {
                    if let why = rules.refusedShort[letter] { throw Refusal("`git \(command) \(argument)` \(why)") }
                    if rules.valueShort.contains(letter) { break }
                }
            }
        }
        if rules.checksURLs { for operand in operands { try checkURL(operand) } }
        return operands
    }

    /// A git directory a gitfile may point at: a submodule's, under a superproject's `.git/modules/`,
    /// written as an absolute path with nothing to resolve (no `.`, `..` or empty component), which
    /// the policy guards. Anywhere else, the gitfile would send git to a config the session can write.
    static func guardedGitDirectory(_ path: String, command: String, option: String,
                                    guards: (String) -> Bool) throws(Refusal) {
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let modules = components.indices.first { components[$0] == ".git" && $0 + 1 < components.endIndex
            && components[$0 + 1] == "modules" }
        guard path.hasPrefix("/"), !hasControlCharacter(path), !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
              let modules, modules + 2 < components.endIndex else {
            throw Refusal("`git \(command) --\(option) \(path)` is not a submodule's git directory (/…/.git/modules/NAME)")
        }
        guard guards(path) else {
            throw Refusal("`git \(command) --\(option) \(path)`: the policy does not guard that git directory's config")
        }
    }

    /// `git remote` actions, and whether their operands include URLs.
    static let remoteActions: [String: Bool] = [
        "add": true, "set-url": true, "rename": false, "remove": false, "rm": false, "set-head": false,
        "set-branches": false, "prune": false, "update": false, "show": false, "get-url": false,
    ]

    static func vetRemote(_ arguments: ArraySlice<String>) throws(Refusal) {
        let rest = arguments.drop { $0 == "-v" || $0 == "--verbose" }
        guard let action = rest.first else { return }  // lists remotes
        guard let checksURLs = remoteActions[action] else {
            throw Refusal("`git remote \(action)` is not a remote action ebguard grants")
        }
        _ = try scan(rest.dropFirst(), Rules(checksURLs: checksURLs), command: "remote \(action)")
    }

    // MARK: URLs

    /// Schemes git serves itself or with its own helpers in its exec path; any other `SCHEME://` runs
    /// `git-remote-SCHEME` found on PATH. Case-sensitive, as git's lookup is.
    static let knownSchemes: Set<Substring> = [
        "http", "https", "ftp", "ftps", "ssh", "git", "file", "git+ssh", "ssh+git",
    ]

    static func checkURL(_ url: String) throws(Refusal) {
        if url.hasPrefix("-") { throw Refusal("URL `\(url)` starts with `-`, so a program would read it as an option") }
        if url.contains("::") {
            throw Refusal("URL `\(url)` names a remote-helper transport (`::`), which runs a program")
        }
        if hasControlCharacter(url) { throw Refusal("URL `\(url)` contains a control character") }
        guard let end = url.firstRange(of: "://")?.lowerBound else { return }
        let scheme = url[..<end]
        let isScheme = scheme.first?.isLetter == true
            && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
        if isScheme, !knownSchemes.contains(scheme) {
            throw Refusal("URL `\(url)` has scheme `\(scheme)`, which runs `git-remote-\(scheme)` from PATH")
        }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || scalar.value == 0x7f }
    static func hasControlCharacter(_ text: String) -> Bool { text.unicodeScalars.contains(where: isControl) }

    // MARK: git config

    /// `harmless` changes neither the file written nor the key; `valued` also takes a value (`--opt=v`,
    /// `--opt v`); `action` picks the old syntax's action; `reads` needs no write.
    enum ConfigOption { case harmless, valued, action, reads, refused(String) }

    static let configOptions: [String: ConfigOption] = [
        // Scopes: a file ebguard protects, or the user's own.
        "--local": .harmless, "--global": .harmless, "--worktree": .harmless,
        // Value types only normalize VALUE.
        "--bool": .harmless, "--int": .harmless, "--bool-or-int": .harmless, "--path": .harmless,
        "--expiry-date": .harmless, "--no-type": .harmless, "--type": .valued,
        // VALUE-PATTERN matching and the newer `set`/`unset` flags; valued ones are checked for line breaks.
        "--fixed-value": .harmless, "--append": .harmless, "--all": .harmless, "--value": .valued, "--comment": .valued,
        "--add": .action, "--replace-all": .action, "--unset": .action, "--unset-all": .action,
        "--get": .reads, "--get-all": .reads, "--get-regexp": .reads, "--get-urlmatch": .reads, "--get-color": .reads,
        "--get-colorbool": .reads, "--list": .reads, "-l": .reads, "--show-origin": .reads, "--show-scope": .reads,
        "--name-only": .reads, "--null": .reads, "-z": .reads, "--default": .reads,
        // Write any file, or keys not named on the command line.
        "--file": .refused("writes any file"), "-f": .refused("writes any file"),
        "--blob": .refused("reads a blob; no write needed"), "--system": .refused("writes /etc/gitconfig"),
        "--edit": .refused("lets an editor write any setting"), "-e": .refused("lets an editor write any setting"),
        "--rename-section": .refused("moves settings into any section"),
        "--remove-section": .refused("removes settings ebguard does not vet"),
        "--includes": .refused("follows include files; reads only"),
    ]

    /// Operand counts of each writing form, and whether its second operand is the value written.
    static let configForms: [String: (operands: ClosedRange<Int>, setsValue: Bool)] = [
        "": (2...3, true), "--add": (2...2, true), "--replace-all": (2...3, true),  // NAME VALUE [VALUE-PATTERN]
        "--unset": (1...2, false), "--unset-all": (1...2, false),  // NAME [VALUE-PATTERN]
        "set": (2...2, true), "unset": (1...1, false),  // git 2.46+: `git config set NAME VALUE`
    ]

    static func vetConfig(_ arguments: ArraySlice<String>) throws(Refusal) {
        var operands: [String] = [], actions: [String] = [], reading: String?, optionsEnded = false
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index], name = String(argument.prefix { $0 != "=" })
            index += 1
            if optionsEnded || argument == "-" || !argument.hasPrefix("-") { operands.append(argument); continue }
            if argument == "--" { optionsEnded = true; continue }
            switch configOptions[name] {
            case nil: throw Refusal("`git config \(argument)` is not an option ebguard grants")
            case .refused(let why)?: throw Refusal("`git config \(argument)` \(why)")
            case .reads?: reading = reading ?? argument
            case .action?: actions.append(name)
            case .harmless?: break
            case .valued?:
                var value = String(argument.dropFirst(name.count + 1))
                if name == argument, index < arguments.endIndex { (value, index) = (arguments[index], index + 1) }
                if hasControlCharacter(value) { throw Refusal("`git config \(name)` value has a control character") }
            }
        }
        if let reading { throw Refusal("`git config \(reading)` reads only; no write needed") }
        if actions.count > 1 { throw Refusal("`git config \(actions.joined(separator: " "))` combines actions") }
        let first = operands.first ?? ""
        if actions.isEmpty, first == "get" || first == "list" {
            throw Refusal("`git config \(first)` reads only; no write needed")
        }
        let newForm = actions.isEmpty && (first == "set" || first == "unset")
        let form = newForm ? first : actions.first ?? "", rest = operands.dropFirst(newForm ? 1 : 0)
        guard let name = rest.first else { throw Refusal("`git config` names no key to write") }
        if form.isEmpty, rest.count == 1 { throw Refusal("`git config \(name)` reads only; no write needed") }
        guard let shape = configForms[form], shape.operands.contains(rest.count) else {
            throw Refusal("`git config \(operands.joined(separator: " "))` has an unexpected number of operands")
        }
        try checkKey(name, value: shape.setsValue ? rest[rest.startIndex + 1] : nil)
    }

    /// Keys without a subsection that only change how git behaves, never what it runs (`section.key`, lowercased).
    static let plainKeys: Set<String> = [
        "user.name", "user.email", "init.defaultbranch", "pull.rebase", "pull.ff", "push.default",
        "push.autosetupremote", "fetch.prune", "rebase.autostash", "merge.ff", "core.autocrlf", "core.eol",
        "core.filemode", "core.ignorecase", "core.quotepath", "core.symlinks", "color.ui", "commit.gpgsign",
    ]
    /// Sections whose every key is safe (advice.* only silences hints); no subsection.
    static let anyKeySections: Set<String> = ["advice"]
    /// Keys under `section.<subsection>.key` that are safe; some hold URLs.
    static let subsectionKeys: [String: Set<String>] = [
        "branch": ["remote", "pushremote", "merge", "rebase", "description"],
        "remote": ["url", "pushurl", "fetch", "push", "tagopt", "prune", "mirror"],
    ]
    /// Keys whose value git may use as a URL (branch.*.remote names a remote or, failing that, a URL).
    static let urlKeys: Set<String> = ["remote.url", "remote.pushurl", "branch.remote", "branch.pushremote"]

    /// Section and key are case-insensitive in git, the subsection (between the first and last dot) is not.
    static func checkKey(_ name: String, value: String?) throws(Refusal) {
        let refusal = Refusal("`\(name)` is not a configuration key ebguard lets git write")
        guard !hasControlCharacter(name), let first = name.firstIndex(of: "."), let last = name.lastIndex(of: ".")
        else { throw refusal }
        let section = name[..<first].lowercased(), key = name[name.index(after: last)...].lowercased()
        let allowed = first == last
            ? plainKeys.contains("\(section).\(key)") || (anyKeySections.contains(section) && !key.isEmpty)
            : name.index(after: first) < last && subsectionKeys[section]?.contains(key) == true
        guard allowed else { throw refusal }
        if let value, urlKeys.contains("\(section).\(key)") { try checkURL(value) }
    }
}
