import EbguardBPF
import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// The shipped agent.yaml's file rules in the kernel (issue 17), with a home and a workspace on
/// the guest's tmpfs: real `git` in nested repositories and a real `pip install --user` of a
/// local wheel work, and every persistence spot is refused.
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, Comment(rawValue: TestEnvironment.vmReason)), .serialized)
struct AgentPolicyVMTests {
    @Test func installsAndGitWorkWhilePersistenceSpotsAreRefused() throws {
        let home = try ScratchDirectory("agenthome")
        let ws = try home.directory("proj")
        let session = try ScratchCgroup("agentpolicy")
        let enforcement = try Enforcement(level: try session.cgroup.level())
        let policy = try Policy.load(path: TestEnvironment.projectRoot + "/policies/agent.yaml")
        var compiled = policy.compile(in: try PolicyContext(home: home.path, workspace: ws))
        // Its exec rules hold git (argv rules) for a userspace decider this harness does not run.
        compiled.exec = []
        let maps = try PolicyMaps(compiled, policyID: 9)
        for (key, rule) in maps.paths { try enforcement.rules.update(key, rule) }
        for (key, lengths) in maps.loadedMarkers { try enforcement.rules.update(key, lengths) }
        try enforcement.addSession(session.cgroup, policy: 9, exec: EG_VERDICT_ALLOW, file: EG_VERDICT_ALLOW)

        // A wheel with one module, made outside the session.
        let wheelDir = try home.directory("wheels")
        let made = try runProcess(["/usr/bin/python3", "-c", """
        import zipfile
        with zipfile.ZipFile("\(wheelDir)/egdemo-1.0-py3-none-any.whl", "w") as z:
            z.writestr("egdemo/__init__.py", "VALUE = 42\\n")
            z.writestr("egdemo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: egdemo\\nVersion: 1.0\\n")
            z.writestr("egdemo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
            z.writestr("egdemo-1.0.dist-info/RECORD", "")
        """])
        #expect(made.status == 0, "\(made.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.path
        environment["GIT_TEMPLATE_DIR"] = home.path + "/no-templates"  // as `ebguard run` sets it
        environment["PIP_NO_INDEX"] = "1"
        environment["PIP_BREAK_SYSTEM_PACKAGES"] = "1"  // Debian marks its Python externally managed
        environment["PYTHONUSERBASE"] = nil
        let site = home.path + "/.local/lib/python3.11/site-packages"
        let spots = [
            site + "/evil.pth", site + "/sitecustomize.py", site + "/usercustomize.py",
            home.path + "/.cargo/config.toml", home.path + "/.gradle/init.d/evil.gradle", home.path + "/.npmrc",
            home.path + "/.config/pip/pip.conf", home.path + "/.bash_aliases", home.path + "/.profile",
            home.path + "/.xsessionrc", home.path + "/.config/autostart/x.desktop",
            home.path + "/.config/systemd/user/x.service", home.path + "/.local/share/dbus-1/services/x.service",
            home.path + "/.local/bin/ls", home.path + "/.vim/plugin/x.vim", home.path + "/.claude/settings.json",
            ws + "/a/.git/hooks/pre-commit", ws + "/a/vendor/b/.git/hooks/post-checkout", ws + "/.mcp.json",
        ]
        let script = """
        set -u
        cd '\(ws)'
        git init -q a && git init -q a/vendor/b || echo "git=init-failed"
        cd a/vendor/b && echo hi > f && git add f && git -c user.name=t -c user.email=t@e commit -qm one && echo "git=OK"
        cd '\(ws)'
        /usr/bin/python3 -m pip install -q --user --no-index --no-warn-script-location '\(wheelDir)/egdemo-1.0-py3-none-any.whl' \
          && /usr/bin/python3 -c 'import egdemo; assert egdemo.VALUE == 42' && echo "pip=OK"
        for f in \(spots.map { "'\($0)'" }.joined(separator: " ")); do
          mkdir -p "$(dirname "$f")" 2>/dev/null
          if ( echo x > "$f" ) 2>/dev/null; then echo "spot=OPEN $f"; else echo "spot=refused $f"; fi
        done
        """
        let result = try runProcess(["/bin/sh", "-c", script], in: session.cgroup, environment: environment)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("git=OK"), "\(result.stdout) \(result.stderr)")
        #expect(!lines.contains("git=init-failed"), "\(result.stdout) \(result.stderr)")
        #expect(lines.contains("pip=OK"), "\(result.stdout) \(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: site + "/egdemo/__init__.py"))
        for spot in spots {
            #expect(lines.contains("spot=refused \(spot)"), "\(spot): \(result.stdout)")
            #expect(!FileManager.default.fileExists(atPath: spot) || (try? String(contentsOfFile: spot, encoding: .utf8)) != "x\n",
                    "\(spot) was written")
        }
        let events = try enforcement.takeEvents()
        #expect(events.contains { $0.path == ws + "/a/vendor/b/.git/hooks" || $0.path.hasPrefix(ws + "/a/vendor/b/.git/hooks/") })
    }
}
