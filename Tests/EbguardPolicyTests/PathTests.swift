import EbguardPolicy
import Testing

@Suite("Paths: parsing, normalization, expansion")
struct PathTests {
    @Test(arguments: [
        ("/etc/shadow", "/etc/shadow"),
        ("//etc///shadow", "/etc/shadow"),
        ("/etc/./ssh/", "/etc/ssh"),
        ("/usr/sbin/**", "/usr/sbin/**"),
        ("/usr//sbin/./**", "/usr/sbin/**"),
        ("/", "/"),
        ("/**", "/**"),
        ("~", "~"),
        ("~/", "~"),
        ("~/.ssh/**", "~/.ssh/**"),
        ("${home}/.aws", "~/.aws"),
        ("${workspace}", "${workspace}"),
        ("${workspace}/**", "${workspace}/**"),
        ("${workspace}/.git/hooks/**", "${workspace}/.git/hooks/**"),
        ("/tmp/file~", "/tmp/file~"),
    ])
    func normalizes(raw: String, canonical: String) throws {
        #expect(try PathPattern(parsing: raw).description == canonical)
    }

    @Test(arguments: [
        ("", "empty path"),
        ("etc/shadow", "path 'etc/shadow' is not absolute (start it with '/', '~/' or '${workspace}/')"),
        ("./x", "path './x' is not absolute (start it with '/', '~/' or '${workspace}/')"),
        ("/etc/../shadow", "'..' is not allowed in paths (rules must be unambiguous): '/etc/../shadow'"),
        ("~/..", "'..' is not allowed in paths (rules must be unambiguous): '~/..'"),
        ("/usr/**bin", "'**' must be a whole path component (as in 'dir/**/name'), not part of '**bin' in '/usr/**bin'"),
        ("/usr/b*i*n", "'b*i*n' in '/usr/b*i*n' has 2 '*': a component takes at most one (the kernel matches prefix*suffix)"),
        ("/etc/{a,b}", "unsupported glob character '{' in '/etc/{a,b}': patterns have '*' (within a component) and '**' (whole components) only"),
        ("/x/file?", "unsupported glob character '?' in '/x/file?': patterns have '*' (within a component) and '**' (whole components) only"),
        ("~root/.ssh", "'~root/.ssh': only '~' alone (the session user's home) may start a path, not '~user'"),
        ("${HOME}/x", "unknown variable '${HOME}' in '${HOME}/x' (only ${workspace} and ${home} are defined)"),
        ("${workspace", "unterminated variable in '${workspace'"),
        ("${workspace}x", "'${workspace}' must be followed by '/' or end the path in '${workspace}x'"),
        ("$HOME/.ssh", "'$HOME/.ssh': environment variables are not expanded; use ${home} or ${workspace}"),
        ("/srv/${workspace}", "'/srv/${workspace}': a variable may only start a path"),
    ])
    func rejects(raw: String, message: String) {
        #expect(throws: PolicyValueError(message)) { try PathPattern(parsing: raw) }
    }

    @Test func expandsAgainstTheContext() throws {
        let ctx = try PolicyContext(home: "/home/u", workspace: "/srv/work")
        #expect(try PathPattern(parsing: "~/.ssh/**").matcher(in: ctx) == .subtree("/home/u/.ssh"))
        #expect(try PathPattern(parsing: "${home}/.netrc").matcher(in: ctx) == .exact("/home/u/.netrc"))
        #expect(try PathPattern(parsing: "${workspace}/**").matcher(in: ctx) == .subtree("/srv/work"))
        #expect(try PathPattern(parsing: "${workspace}").matcher(in: ctx) == .exact("/srv/work"))
        #expect(try PathPattern(parsing: "~").matcher(in: ctx) == .exact("/home/u"))
        #expect(try PathPattern(parsing: "/**").matcher(in: ctx) == .subtree("/"))
    }

    @Test func variablesAreNotTakenFromTheEnvironment() throws {
        // Whatever $HOME says, ~ is the context's home.
        let ctx = try PolicyContext(home: "/home/other", workspace: "/w")
        #expect(try PathPattern(parsing: "~/.aws/**").expandedPath(in: ctx) == "/home/other/.aws")
    }

    @Test func contextIsNormalizedAndChecked() throws {
        let ctx = try PolicyContext(home: "/home//u/", workspace: "/w/./x/")
        #expect(ctx.home == "/home/u")
        #expect(ctx.workspace == "/w/x")
        #expect(throws: PolicyValueError("home 'home/u' is not an absolute path")) {
            try PolicyContext(home: "home/u", workspace: "/w")
        }
        #expect(throws: PolicyValueError("workspace '/w/../x' contains '..'")) {
            try PolicyContext(home: "/home/u", workspace: "/w/../x")
        }
        // A root workspace still compiles to sane matchers.
        let root = try PolicyContext(home: "/", workspace: "/")
        #expect(try PathPattern(parsing: "${workspace}/**").matcher(in: root) == .subtree("/"))
        #expect(try PathPattern(parsing: "~/.ssh").matcher(in: root) == .exact("/.ssh"))
    }

    @Test func compiledPolicyExpandsEveryRule() throws {
        let c = try compile("""
            exec:
              - { action: deny, path: "~/bin/**" }
            file:
              - { action: deny, path: "~/.ssh/**" }
              - { action: allow, path: "${workspace}//src/./" }
              - { action: deny, name: .env }
            network:
              - { action: deny, unix: "${home}/.docker/docker.sock" }
            """)
        #expect(c.exec[0].matcher == .subtree("/home/u/bin"))
        #expect(c.file.map(\.matcher) == [.subtree("/home/u/.ssh"), .exact("/home/u/proj/src"), .basename(".env")])
        #expect(c.network[0].unix == .exact("/home/u/.docker/docker.sock"))
        #expect(c.file.map(\.id.description) == ["file[0]", "file[1]", "file[2]"])
    }

    @Test func matchers() {
        let sub = PathMatcher.subtree("/home/u/.ssh")
        #expect(sub.matches("/home/u/.ssh"))
        #expect(sub.matches("/home/u/.ssh/id_rsa"))
        #expect(sub.matches("/home/u/.ssh/keys/a"))
        #expect(!sub.matches("/home/u/.sshx"))
        #expect(!sub.matches("/home/u/.ssh-backup/id_rsa"))
        #expect(!sub.matches("/home/u"))
        #expect(PathMatcher.subtree("/").matches("/anything/at/all"))
        #expect(PathMatcher.exact("/etc/shadow").matches("/etc/shadow"))
        #expect(!PathMatcher.exact("/etc/shadow").matches("/etc/shadow-"))
        #expect(!PathMatcher.exact("/etc/shadow").matches("/etc"))
        let env = PathMatcher.basename(".env")
        #expect(env.matches("/home/u/proj/.env"))
        #expect(env.matches("/.env"))
        #expect(!env.matches("/home/u/proj/.env.local"))
        #expect(!env.matches("/home/u/.env/config"))
        #expect(!env.matches("/"))
    }

    @Test func matchingIsByteWise() {
        // "é" precomposed and decomposed are equal Swift Strings but different file names.
        let precomposed = "/tmp/caf\u{E9}", decomposed = "/tmp/cafe\u{301}"
        #expect(precomposed == decomposed)
        #expect(!PathMatcher.exact(precomposed).matches(decomposed))
        #expect(!PathMatcher.subtree(precomposed).matches(decomposed + "/x"))
        #expect(PathMatcher.exact(precomposed).matches(precomposed))
    }
}
