import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The shipped agent.yaml under the real CLI (issue 17): `sudo ebguard run --policy
/// policies/agent.yaml` for a user whose home is a throwaway tmpfs at /home/egagent (a private
/// mount namespace with that user added to a copy of /etc/passwd), the workspace at ~/proj, as
/// on a real machine. In one session: `pip install --user` of a local wheel, `npm pack` and
/// `npm install` of the tarball, `cargo build --offline`, `gradle build --offline`, and `git` in
/// nested repositories (init, clone, remote, fetch, tracking branches, push -u, config user.*)
/// all work, while every persistence spot is refused by ebguard (EACCES/EPERM, and named on its
/// stderr), so is a connect to the user's own servers (ssh-agent, tmux, screen, gpg-agent,
/// editors) while the agent's own sockets stay reachable, and so is every way tried to put a
/// setting that runs code into a repository's config (docs/policy.md, `unless: git`).
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct AgentPolicyVMTests {
    static let binary = TestEnvironment.projectRoot + "/bin/ebguard"
    static let home = "/home/egagent"
    static let workspace = home + "/proj"

    /// Where a write now would run code later, outside the session. `~` is the home, `W` the
    /// workspace. Home parents exist beforehand (a lived-in home has ~/.config/systemd/user);
    /// workspace parents are made in the session, so a refused `mkdir .git/hooks` counts.
    static func spots(python: String) -> [String] {
        let site = "~/.local/lib/\(python)/site-packages"
        return [
            // Python: .pth lines and sitecustomize/usercustomize run in every later interpreter.
            site + "/evil.pth", site + "/sitecustomize.py", site + "/usercustomize.py",
            site + "/__pycache__/sitecustomize.cpython-311.pyc",
            // Build tools' configuration and init scripts.
            "~/.cargo/config.toml", "~/.cargo/config", "~/.cargo/env",
            "~/.gradle/init.d/evil.gradle", "~/.gradle/init.gradle", "~/.gradle/gradle.properties",
            "~/.npmrc", "~/.yarnrc", "~/.yarnrc.yml", "~/.config/yarn/config", "~/.config/pip/pip.conf",
            "~/.pip/pip.conf", "~/.pydistutils.cfg", "W/.npmrc", "W/a/.yarnrc.yml", "W/crate/.cargo/config.toml",
            // Shell and session startup.
            "~/.bashrc", "~/.bash_profile", "~/.bash_aliases", "~/.profile", "~/.zshrc", "~/.xsessionrc",
            "~/.xprofile", "~/.config/fish/config.fish",
            // Autostart, systemd and D-Bus user services.
            "~/.config/autostart/x.desktop", "~/.config/systemd/user/x.service",
            "~/.local/share/systemd/user/x.service", "~/.local/share/dbus-1/services/x.service",
            // Programs on PATH that shadow system ones.
            "~/.local/bin/ls", "~/.cargo/bin/ls",
            // Editors' plugins and settings.
            "~/.vim/plugin/x.vim", "~/.vimrc", "~/.config/nvim/init.lua", "~/.local/share/nvim/site/plugin/x.lua",
            "~/.emacs.d/init.el", "~/.vscode/extensions/x/package.json", "~/.config/Code/User/settings.json",
            "W/.vscode/tasks.json",
            // Git: global config (core.hooksPath there applies to every repository) and the hooks
            // of every repository under the workspace, nested and submodule ones included.
            "~/.gitconfig", "~/.config/git/config", "W/a/.git/hooks/pre-commit",
            "W/a/vendor/b/.git/hooks/post-checkout", "W/a/.git/modules/sub/hooks/pre-commit",
            // Git: every repository's config (core.hooksPath, core.fsmonitor, aliases) and its lock,
            // a submodule's, a worktree's, and a gitfile naming a repository elsewhere.
            "W/a/.git/config", "W/a/vendor/b/.git/config", "W/a/.git/config.lock", "W/a/.git/modules/sub/config",
            "W/a/.git/worktrees/w/config.worktree", "W/a/.git/worktrees/w/commondir", "W/a/.git/commondir", "W/side/.git",
            // The agents' own settings: hooks and MCP servers.
            "~/.claude/settings.json", "~/.claude/settings.local.json", "~/.claude/plugins/x/hooks.json",
            "~/.codex/config.toml", "~/.gemini/settings.json", "~/.cursor/mcp.json", "W/.mcp.json",
            "W/a/.claude/settings.json", "W/.cursor/mcp.json",
        ]
    }

    /// Writes the session needs, which must still work (the fence is not a wall).
    static let allowedWrites = ["~/.cache/x", "~/.claude/projects/p.jsonl", "~/.gradle/caches/x", "~/.cargo/registry/x",
                                "~/.local/share/x", "W/notes.txt", "W/a/.git/info/x"]

    /// Secrets agent.yaml keeps unreadable, in the home and copied into the workspace (made
    /// beforehand, readable by the user: only ebguard can refuse them).
    static let secrets = ["~/.ssh/id_ed25519", "~/.aws/credentials", "~/.netrc", "~/.git-credentials", "~/.pypirc",
                          "~/.kube/config", "~/.docker/config.json", "~/.cargo/credentials.toml", "~/.config/gh/hosts.yml",
                          "W/.env", "W/a/.env.local", "W/certs/server.key", "W/certs/server.pem", "W/keys/id_rsa.bak",
                          "W/keys/id_ed25519", "W/deploy/kubeconfig", "W/a/vendor/.netrc", "W/certs/client.p12"]
    /// Reads that stay allowed: a .envrc, ordinary files, and a CA bundle an installed package
    /// ships (the pip install above puts egdemo/cacert.pem there).
    static let allowedReads = ["W/.envrc", "W/README.md", "~/.bashrc"]
    /// Servers of the user's own outside the session (listening before it starts), at the
    /// places their programs use: connecting is a way out. `{pid}` is the test's pid.
    static let escapeSockets = ["/tmp/ssh-eg{pid}/agent.1", "/tmp/tmux-4242/default", "/run/screen/S-egagent/1.pts-0.egvm",
                                "~/.gnupg/S.gpg-agent", "/tmp/vscode-ipc-eg{pid}.sock", "/tmp/nvim.egagent/eg{pid}/nvim.1.0",
                                "/tmp/emacs4242/server"]
    /// Sockets the agent's own work uses: a test server in the workspace, one in /tmp, a tmux
    /// server of its own (`tmux -S`).
    static let allowedSockets = ["W/dev.sock", "/tmp/eg-app-{pid}/app.sock", "/tmp/eg-tmux-{pid}.sock"]

    /// git's probe for symlinks (a link `tXXXXXX` in a new git directory): refused under
    /// .git/modules, where agent.yaml's rule for submodules' hooks refuses every symlink (one
    /// there could lead a submodule's hooks elsewhere). git then records core.symlinks=false.
    static func isSymlinkProbe(_ denial: Substring) -> Bool {
        denial.contains(" by rule file[") && denial.wholeMatch(of: #/.* create ~/proj/sup[23]?/\.git/modules/lib/t[A-Za-z0-9]{6} \(create\) .*/#) != nil
    }

    static func absolute(_ spot: String) -> String {
        spot.hasPrefix("~/") ? home + spot.dropFirst(1) : spot.hasPrefix("W/") ? workspace + spot.dropFirst(1) : spot
    }

    static func socketPath(_ spot: String) -> String { absolute(spot).replacingOccurrences(of: "{pid}", with: String(getpid())) }

    /// The directory holding cargo and rustc: Debian's on PATH, else a rustup toolchain's own
    /// (the `cargo` proxy in /root/.cargo would need root's ~/.rustup). `make deps` installs
    /// Debian's when neither exists. Its parent (lib/ beside bin/) is what the session gets.
    static func cargoToolchain() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where access("\(dir)/cargo", X_OK) == 0 && access("\(dir)/rustc", X_OK) == 0 {
            return String(dir)
        }
        let toolchains = "/root/.rustup/toolchains"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: toolchains)) ?? []).sorted { a, b in
            a.hasPrefix("stable") != b.hasPrefix("stable") ? a.hasPrefix("stable") : a < b
        }
        return names.map { "\(toolchains)/\($0)/bin" }.first { access($0 + "/cargo", X_OK) == 0 }
    }

    @Test func installsBuildsAndGitWorkWhilePersistenceSpotsAreRefused() throws {
        let work = "/tmp/eg-agentpolicy-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        chmod(work, 0o755)
        let python = try runProcess(["/usr/bin/python3", "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let toolchain = try #require(Self.cargoToolchain(), "no cargo: run make deps")
        let spots = Self.spots(python: python)
        let site = Self.home + "/.local/lib/\(python)/site-packages"

        // A wheel with one module, made outside the session.
        let made = try runProcess(["/usr/bin/python3", "-c", """
        import zipfile
        with zipfile.ZipFile("\(work)/egdemo-1.0-py3-none-any.whl", "w") as z:
            z.writestr("egdemo/__init__.py", "VALUE = 42\\n")
            z.writestr("egdemo/cacert.pem", "-----BEGIN CERTIFICATE-----\\n")
            z.writestr("egdemo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: egdemo\\nVersion: 1.0\\n")
            z.writestr("egdemo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
            z.writestr("egdemo-1.0.dist-info/RECORD", "")
        """])
        #expect(made.status == 0, "\(made.stderr)")
        chmod(work + "/egdemo-1.0-py3-none-any.whl", 0o644)

        let homeParents = Set((spots + Self.allowedWrites).filter { $0.hasPrefix("~/") }
            .map { (Self.absolute($0) as NSString).deletingLastPathComponent })
        let probe = """
        import errno, os, sys
        for path in sys.argv[1:]:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "a") as f:
                    f.write("x\\n")
                print("write=OK " + path, flush=True)
            except OSError as e:
                print("write=" + errno.errorcode.get(e.errno, str(e.errno)) + " " + path, flush=True)
        """
        try probe.write(toFile: work + "/probe.py", atomically: true, encoding: .utf8)
        let quoted = { (paths: [String]) in paths.map { "'\(Self.absolute($0))'" }.joined(separator: " ") }
        let sockets = (Self.escapeSockets + Self.allowedSockets).map { "'\(Self.socketPath($0))'" }.joined(separator: " ")
        // The agent's workload, as the session's user. Each step prints step=OK only if it worked.
        let session = """
        set -u
        export PIP_NO_INDEX=1 PIP_BREAK_SYSTEM_PACKAGES=1 NPM_CONFIG_UPDATE_NOTIFIER=false
        export PATH='\(work)/toolchain/bin':"$PATH" RUSTC='\(work)/toolchain/bin/rustc'
        echo "home=$HOME user=$(id -un)"
        cd '\(Self.workspace)'
        git init -q a && git init -q a/vendor/b && mkdir -p a/.git/modules/sub \
          && (cd a/vendor/b && echo hi > f && git add f && git -c user.name=t -c user.email=t@e commit -qm one) \
          && (cd a && echo hi > g && git add g && git -c user.name=t -c user.email=t@e commit -qm one && git log --oneline | grep -q one) \
          && echo "git=OK"
        git config --global core.hooksPath /tmp/hooks 2>/dev/null && echo "hookspath-global=written"
        # Git that writes repository metadata, as ebguard vetted it at exec: let through (audited).
        # (An identity of its own: without one git looks the host's name up for its reflogs.)
        export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
        git init -q -b main m && git -C m config user.email t@e && git -C m config user.name t \
          && (cd m && echo hi > f && git add f && git commit -qm one) \
          && git clone -q m m2 && git -C m2 remote add up "$PWD/m" && git -C m2 fetch -q up \
          && git -C m2 checkout -q -b feat --track up/main && git -C m2 push -q -u origin feat \
          && [ "$(git -C m2 config branch.feat.remote)" = origin ] && echo "gitmeta=OK"
        # Submodules: added, cloned with --recurse-submodules, initialized after a clone. Each one's git
        # directory goes in the superproject's .git/modules (a vetted clone's --separate-git-dir).
        sm="$PWD/sm"; export GIT_ALLOW_PROTOCOL=file
        git init -q -b main sm && (cd sm && echo s > s && git add s && git commit -qm sub) \
          && git init -q -b main sup && (cd sup && echo t > t && git add t && git commit -qm top \
               && git submodule add -q "$sm" lib && git commit -qm lib) \
          && git clone -q --recurse-submodules sup sup2 && [ "$(cat sup2/lib/s)" = s ] \
          && git clone -q sup sup3 && git -C sup3 submodule update -q --init && [ "$(cat sup3/lib/s)" = s ] \
          && [ "$(git -C sup2/lib config core.worktree)" = ../../../lib ] && [ -f sup3/.git/modules/lib/HEAD ] \
          && echo "submodule=OK"
        echo "submodule-symlinks=$(git -C sup2/lib config core.symlinks)"
        unset GIT_ALLOW_PROTOCOL
        # A clone's git directory anywhere else (a gitfile in the workspace naming a config the session
        # can write), or through a symlink to a directory elsewhere: refused, so is its gitfile. A
        # symlink under .git/modules itself cannot be made.
        git clone -q --separate-git-dir="/tmp/eg-gitdir-$$" sm side2 2>/dev/null; [ -e side2/.git ] && echo "esc=separate-git-dir"
        mkdir -p "/tmp/eg-gitdir2-$$/.git/modules" && ln -s "/tmp/eg-gitdir2-$$" gdlink && echo "gitdir-symlink=made"
        git clone -q --separate-git-dir="$PWD/gdlink/.git/modules/x" sm side3 2>/dev/null; [ -e side3/.git ] && echo "esc=separate-git-dir-symlink"
        ln -s "/tmp/eg-gitdir2-$$" sup/.git/modules/evil 2>/dev/null && echo "esc=modules-symlink"
        # A linked worktree (a vetted `git worktree add` writes its commondir; --no-checkout, as the
        # checkout it would run is a `git reset --hard`, which agent.yaml asks about).
        git -C m worktree add -q --no-checkout ../mwt && git -C mwt checkout -q -f && [ "$(cat mwt/f)" = hi ] \
          && [ "$(cat m/.git/worktrees/mwt/commondir)" = ../.. ] && git -C mwt log --oneline | grep -q one \
          && echo "worktree=OK"
        # A worktree of a repository the policy does not guard (the agent's own, elsewhere): its gitfile
        # in the workspace would name a config the session can write. Refused.
        o=/tmp/eg-wtsrc-$$; git init -q -b main "$o" && (cd "$o" && echo o > o && git add o && git commit -qm o) \
          && echo "foreign-repo=made"
        git -C "$o" worktree add -q --no-checkout "$PWD/evilwt" 2>/dev/null; [ -e evilwt/.git ] && echo "esc=worktree-foreign"
        # Settings that run code, however git or anything else is asked to write them: refused.
        git -C m config core.hooksPath /tmp/hooks 2>/dev/null && echo "esc=config-hookspath"
        git -C m config alias.st '!touch /tmp/eg-pwned' 2>/dev/null && echo "esc=config-alias"
        (cd m && exec -a git-config git core.fsmonitor /tmp/fsm) 2>/dev/null && echo "esc=argv0"
        git clone -q -c core.hooksPath=/tmp/hooks m m3 2>/dev/null && echo "esc=clone-c"
        GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/tmp/h git -C m config user.name q 2>/dev/null \
          && echo "esc=config-env"
        /usr/bin/python3 -c 'open("m/.git/config", "a").write("[core]\n\thooksPath = /tmp/h\n")' 2>/dev/null && echo "esc=python"
        cp m/.git/config m/cfg && printf '[core]\n\thooksPath = /tmp/h\n' >> m/cfg && mv -f m/cfg m/.git/config 2>/dev/null \
          && echo "esc=rename-over"
        ln m/.git/config m/cfglink 2>/dev/null && echo "esc=hardlink"
        # A vetted checkout whose work tree is a .git directory (core.worktree in a repository of the
        # agent's, outside the workspace) writes a committed `config` directly: refused.
        e=/tmp/eg-evil-$$; git init -q -b main v && git init -q "$e" \
          && (cd "$e" && printf '[core]\n\thooksPath = /tmp/h\n' > config && echo /tmp/h > commondir \
              && git add config commondir && git -c user.name=t -c user.email=t@e commit -qm evil) \
          && git --git-dir="$e/.git" config core.worktree "$PWD/v/.git" \
          && (cd "$e/.git" && git checkout -q HEAD -- config) 2>/dev/null && echo "esc=checkout-into-git"
        # Nor its commondir: only a vetted `git worktree add` writes one directly.
        (cd "$e/.git" && git checkout -q HEAD -- commondir) 2>/dev/null && echo "esc=checkout-commondir"
        # What a vetted git starts is not vetted: the command it runs for ssh cannot write a config.
        printf '#!/bin/sh\ntouch "$EG_MARK.ran"\nprintf "[core]\\n\\thooksPath = /tmp/h\\n" >> "$EG_CFG" && touch "$EG_MARK"\n' > sshcmd.sh \
          && chmod +x sshcmd.sh && EG_CFG="$PWD/m/.git/config" EG_MARK="$PWD/git-child-wrote" \\
             GIT_SSH_COMMAND="$PWD/sshcmd.sh" git -C m2 fetch -q ssh://eg.invalid/x 2>/dev/null
        [ -e git-child-wrote ] && echo "esc=git-child"; [ -e git-child-wrote.ran ] && echo "git-child=ran"
        grep -qi hookspath m/.git/config m2/.git/config m3/.git/config v/.git/config 2>/dev/null && echo "esc=hookspath-present"
        # A vetted git cannot be reached into while it runs (ptrace, /proc/PID/mem); a sibling can.
        /usr/bin/python3 -c '
        import ctypes, errno, os, subprocess, time
        libc = ctypes.CDLL(None, use_errno=True)
        def attach(pid):
            if libc.ptrace(16, pid, 0, 0) == 0:
                os.waitpid(pid, 0)
                libc.ptrace(17, pid, 0, 0)
                return "OK"
            return errno.errorcode.get(ctypes.get_errno(), "?")
        def mem(pid):
            try:
                open("/proc/%d/mem" % pid, "r+b").close()
                return "OK"
            except OSError as e:
                return errno.errorcode.get(e.errno, "?")
        env = dict(os.environ, GIT_SSH_COMMAND="sleep 6;:")
        git = subprocess.Popen(["git", "-C", "m2", "fetch", "-q", "ssh://eg.invalid/x"], env=env, stderr=subprocess.DEVNULL)
        other = subprocess.Popen(["sleep", "6"])
        time.sleep(2)
        print("ptrace-git=" + attach(git.pid), "mem-git=" + mem(git.pid), "ptrace-other=" + attach(other.pid), flush=True)
        git.kill(); other.kill(); git.wait(); other.wait()
        '
        /usr/bin/python3 -m pip install -q --user --no-warn-script-location '\(work)/egdemo-1.0-py3-none-any.whl' \
          && (cd / && /usr/bin/python3 -c 'import egdemo; assert egdemo.VALUE == 42') && echo "pip=OK"
        mkdir -p pkgsrc app && echo '{"name": "egpkg", "version": "1.0.0", "main": "index.js"}' > pkgsrc/package.json \
          && echo 'module.exports = 42;' > pkgsrc/index.js && echo '{"name": "app", "version": "1.0.0"}' > app/package.json \
          && (cd pkgsrc && npm pack --silent >/dev/null) \
          && (cd app && npm install -s --offline --no-audit --no-fund ../pkgsrc/egpkg-1.0.0.tgz \
              && node -e 'process.exit(require("egpkg") === 42 ? 0 : 1)') && echo "npm=OK"
        mkdir -p crate/src && printf '[package]\\nname = "egcrate"\\nversion = "0.1.0"\\nedition = "2021"\\n' > crate/Cargo.toml \
          && echo 'fn main() { println!("crate-ok"); }' > crate/src/main.rs \
          && (cd crate && cargo build --offline -q && ./target/debug/egcrate | grep -q crate-ok) && echo "cargo=OK"
        mkdir -p gproj/src/main/java/eg && echo "apply plugin: 'java'" > gproj/build.gradle \
          && echo 'package eg; public class Main { public static void main(String[] a) { System.out.println("gradle-ok"); } }' \
             > gproj/src/main/java/eg/Main.java \
          && (cd gproj && gradle --offline --no-daemon -q build && java -cp build/libs/gproj.jar eg.Main | grep -q gradle-ok) \
          && echo "gradle=OK"
        /usr/bin/python3 '\(work)/probe.py' \(quoted(spots)) \(quoted(Self.allowedWrites))
        /usr/bin/python3 -c '
        import errno, sys
        for path in sys.argv[1:]:
            try:
                open(path).read()
                print("read=OK " + path, flush=True)
            except OSError as e:
                print("read=" + errno.errorcode.get(e.errno, str(e.errno)) + " " + path, flush=True)
        ' \(quoted(Self.secrets)) \(quoted(Self.allowedReads)) '\(site)/egdemo/cacert.pem'
        /usr/bin/python3 -c '
        import errno, socket, sys
        for path in sys.argv[1:]:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                print("unix=OK " + path, flush=True)
            except OSError as e:
                print("unix=" + errno.errorcode.get(e.errno, str(e.errno)) + " " + path, flush=True)
            finally:
                s.close()
        ' \(sockets)
        """
        try session.write(toFile: work + "/session.sh", atomically: true, encoding: .utf8)
        // Root, in a mount namespace of its own: /home becomes a tmpfs with the user's home in
        // it, /etc/passwd a copy that names the user, the toolchain a directory the user can reach.
        let outer = """
        set -eu
        mount -t tmpfs -o mode=0755 tmpfs /home
        cp /etc/passwd '\(work)/passwd' && echo 'egagent:x:4242:4242:ebguard test agent:\(Self.home):/bin/bash' >> '\(work)/passwd'
        cp /etc/group '\(work)/group' && echo 'egagent:x:4242:' >> '\(work)/group'
        mount --bind '\(work)/passwd' /etc/passwd && mount --bind '\(work)/group' /etc/group
        mkdir '\(work)/toolchain' && mount --bind '\((toolchain as NSString).deletingLastPathComponent)' '\(work)/toolchain'
        mkdir -p '\(Self.workspace)' \(homeParents.sorted().map { "'\($0)'" }.joined(separator: " "))
        for f in \(quoted(Self.secrets + Self.allowedReads)); do mkdir -p "$(dirname "$f")" && echo secret > "$f"; done
        /usr/bin/python3 -c '
        import os, socket, sys, time
        listening = []
        for path in sys.argv[1:]:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            os.chmod(path, 0o777)
            s.listen(64)
            listening.append(s)
        open(sys.argv[1] + ".ready", "w").close()
        time.sleep(3600)
        ' \(sockets) &
        server=$!
        while [ ! -e '\(Self.socketPath(Self.escapeSockets[0])).ready' ]; do sleep 0.05; done
        chown -R 4242:4242 '\(Self.home)'
        cd '\(Self.workspace)'
        rc=0
        SUDO_USER=egagent '\(Self.binary)' run --policy '\(TestEnvironment.projectRoot)/policies/agent.yaml' -- /bin/bash '\(work)/session.sh' || rc=$?
        echo "exit=$rc"
        kill $server
        for f in \(quoted(spots)); do
          if [ -e "$f" ] && grep -q x "$f" 2>/dev/null; then echo "written=$f"; fi
        done
        ls '\(Self.home)/.local/lib/\(python)/site-packages/egdemo/__init__.py' >/dev/null && echo "installed=egdemo"
        """
        var environment = ProcessInfo.processInfo.environment
        for name in ["SUDO_USER", "EBGUARD_SOCKET", "GIT_TEMPLATE_DIR", "PYTHONUSERBASE", "CARGO_HOME", "RUSTUP_HOME"] {
            environment[name] = nil
        }
        let result = try runProcess(["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", outer],
                                    environment: environment)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let all = "\(result.stdout)\n--- stderr:\n\(result.stderr)"
        #expect(lines.contains("home=\(Self.home) user=egagent"), "\(all)")
        for step in ["git", "gitmeta", "submodule", "worktree", "pip", "npm", "cargo", "gradle"] {
            #expect(lines.contains("\(step)=OK"), "\(step) failed under agent.yaml: \(all)")
        }
        #expect(lines.contains("installed=egdemo"), "\(all)")
        #expect(lines.contains("exit=0"), "\(all)")
        let denials = result.stderr.split(separator: "\n").filter { $0.hasPrefix("ebguard: denied ") }
        for spot in spots {
            let path = Self.absolute(spot)
            let refused = lines.contains("write=EACCES \(path)") || lines.contains("write=EPERM \(path)")
            #expect(refused, "\(spot) was not refused: \(all)")
            #expect(!lines.contains("written=\(path)"), "\(spot) was written")
            // ebguard did it: its denial names the file or the directory a refused mkdir would have made.
            let shown = [spot, (spot as NSString).deletingLastPathComponent].map {
                ($0.hasPrefix("W/") ? "~/proj" + $0.dropFirst(1) : $0) + " ("
            }
            #expect(denials.contains { line in shown.contains { line.contains($0) } }, "no denial for \(spot): \(all)")
        }
        // Nothing else was refused: the installs, builds and git met no denial on their way
        // (`git config --global` is refused at ~/.gitconfig.lock, the lock beside ~/.gitconfig).
        let expected = (spots + Self.secrets).flatMap { spot in
            [spot, (spot as NSString).deletingLastPathComponent].map { $0.hasPrefix("W/") ? "~/proj" + $0.dropFirst(1) : $0 }
        } + ["~/.gitconfig.lock", "~/proj/m/.git/config", "~/proj/m/.git/config.lock", "~/proj/m3/.git", "~/proj/m3",
             "~/proj/m/cfg", "~/proj/m/cfglink", "~/proj/v/.git/config", "~/proj/side2/.git", "~/proj/side3/.git",
             "~/proj/evilwt/.git", "~/proj/v/.git/commondir", "~/proj/sup/.git/modules/evil"] + Self.escapeSockets.map { Self.socketPath($0).replacingOccurrences(of: Self.home, with: "~") }
        // Self-protection's refusals (the ptrace of a vetted git) name no path; its /proc/PID/mem
        // is refused as a write outside the fence before the ptrace check would be reached.
        for line in denials where !expected.contains(where: { line.contains(" \($0) (") }) && !line.hasSuffix("by self-protection")
            && !(line.contains(" /proc/") && line.contains("/mem (")) && !Self.isSymlinkProbe(line) {
            Issue.record("unexpected denial: \(line)\n\(all)")
        }
        // Secrets: unreadable at home and wherever they were copied; a CA bundle an installed
        // package ships, a .envrc and ordinary files stay readable.
        for secret in Self.secrets {
            let path = Self.absolute(secret)
            #expect(lines.contains("read=EACCES \(path)") || lines.contains("read=EPERM \(path)"), "\(secret) was readable: \(all)")
        }
        for read in Self.allowedReads.map(Self.absolute) + [site + "/egdemo/cacert.pem"] {
            #expect(lines.contains("read=OK \(read)"), "\(read): \(all)")
        }
        for write in Self.allowedWrites {
            #expect(lines.contains("write=OK \(Self.absolute(write))"), "\(write): \(all)")
        }
        // The user's own servers refused by ebguard (named on its stderr), the agent's own reached.
        for socket in Self.escapeSockets.map(Self.socketPath) {
            #expect(lines.contains("unix=EPERM \(socket)") || lines.contains("unix=EACCES \(socket)"), "\(socket) was reachable: \(all)")
            let shown = socket.replacingOccurrences(of: Self.home, with: "~")
            #expect(denials.contains { $0.contains("denied connect \(shown) (unix)") }, "no denial for \(socket): \(all)")
        }
        for socket in Self.allowedSockets.map(Self.socketPath) {
            #expect(lines.contains("unix=OK \(socket)"), "\(socket): \(all)")
        }
        // core.hooksPath and friends: refused in ~/.gitconfig and in every repository's config,
        // whoever writes them; git's own writes of safe settings went through, audited.
        #expect(!lines.contains("hookspath-global=written"), "\(all)")
        for line in lines where line.hasPrefix("esc=") { Issue.record("git metadata escape: \(line)\n\(all)") }
        #expect(lines.contains("git-child=ran"), "the command git runs for ssh never ran: \(all)")
        #expect(lines.contains("gitdir-symlink=made"), "the symlinked git directory was not tried: \(all)")
        #expect(lines.contains("foreign-repo=made"), "\(all)")
        #expect(lines.contains("submodule-symlinks=false"), "\(all)")
        // The refusals the escapes above met are ebguard's, not git's own checks.
        for refused in ["~/proj/side2/.git", "~/proj/side3/.git", "~/proj/evilwt/.git", "~/proj/v/.git/commondir",
                        "~/proj/sup/.git/modules/evil"] {
            #expect(denials.contains { $0.contains(" \(refused) (") }, "\(refused) was not refused by ebguard: \(all)")
        }
        #expect(result.stderr.split(separator: "\n").contains {
            $0.hasPrefix("ebguard: audited ") && $0.contains(" ~/proj/m/.git/worktrees/mwt/commondir (")
        }, "git worktree add wrote its commondir unreported: \(all)")
        #expect(result.stderr.split(separator: "\n").contains {
            $0.hasPrefix("ebguard: audited ") && $0.contains(" ~/proj/sup2/.git/modules/lib/config.lock (")
        }, "a submodule's clone wrote its config unreported: \(all)")
        #expect(lines.contains("ptrace-git=EPERM mem-git=EACCES ptrace-other=OK")
                || lines.contains("ptrace-git=EPERM mem-git=EPERM ptrace-other=OK"), "\(all)")
        #expect(result.stderr.split(separator: "\n").contains {
            $0.hasPrefix("ebguard: audited ") && $0.contains(" ~/proj/m2/.git/config.lock (") && $0.contains(" by a vetted git (rule file[")
        }, "git's own write of a clone's config was not reported: \(all)")
    }
}
