import EbguardPolicy
import Testing

/// One policy that must be rejected, with the exact diagnostics expected.
struct Malformed: Sendable, CustomTestStringConvertible {
    var label: String
    var yaml: String
    var expected: [String]

    init(_ label: String, _ yaml: String, _ expected: String...) {
        self.label = label
        self.yaml = yaml
        self.expected = expected
    }

    var testDescription: String { label }
}

/// Rules go from line 3 on: `version` and `name` take lines 1 and 2.
private func rules(_ body: String) -> String { "version: 1\nname: t\n" + body }

@Suite("Malformed policies")
struct MalformedPolicyTests {
    static let cases: [Malformed] = [
        Malformed("unknown key with suggestion", rules("""
            file:
              - { action: deny, path: /x, acess: [read] }
            """), "agent.yaml:4:31: unknown key 'acess' in file rule (did you mean 'access'?)"),
        Malformed("unknown top-level key with suggestion", rules("netwrok: []\n"),
                  "agent.yaml:3:1: unknown key 'netwrok' in policy (did you mean 'network'?)"),
        Malformed("unknown key without suggestion", rules("""
            exec:
              - action: deny
                path: /usr/bin/docker
                colour: red
            """), "agent.yaml:6:5: unknown key 'colour' in exec rule"),
        Malformed("transposed key", rules("""
            network:
              - { action: allow, cidr: 0.0.0.0/0, prots: [443] }
            """), "agent.yaml:4:39: unknown key 'prots' in network rule (did you mean 'ports'?)"),
        Malformed("section of the wrong type", rules("exec: { action: deny }\n"),
                  "agent.yaml:3:7: 'exec' must be a list, found a mapping"),
        Malformed("rule of the wrong type", rules("file:\n  - /etc/shadow\n"),
                  "agent.yaml:4:5: file rule must be a mapping, found '/etc/shadow'"),
        Malformed("value of the wrong type", rules("file:\n  - { action: deny, path: [/a, /b] }\n"),
                  "agent.yaml:4:27: 'path' must be a string, found a list"),
        Malformed("bad verdict", rules("exec:\n  - { action: block, path: /usr/bin/nc }\n"),
                  "agent.yaml:4:15: invalid value 'block' for 'action' (expected allow, deny, audit or ask)"),
        Malformed("misspelled verdict", rules("exec:\n  - { action: alow, path: /usr/bin/nc }\n"),
                  "agent.yaml:4:15: invalid value 'alow' for 'action' (expected allow, deny, audit or ask; did you mean 'allow'?)"),
        Malformed("bad default", rules("defaults:\n  network: reject\n  files: deny\n"),
                  "agent.yaml:4:12: invalid value 'reject' for 'defaults.network' (expected allow, deny, audit or ask)",
                  "agent.yaml:5:3: unknown key 'files' in defaults (did you mean 'file'?)"),
        Malformed("bad cidr address", rules("network:\n  - { action: deny, cidr: 10.0.0.256/8 }\n"),
                  "agent.yaml:4:27: invalid address '10.0.0.256' in cidr '10.0.0.256/8'"),
        Malformed("bad IPv4 prefix length", rules("network:\n  - { action: deny, cidr: 10.0.0.0/33 }\n"),
                  "agent.yaml:4:27: invalid prefix length '33' in cidr '10.0.0.0/33' (IPv4 allows 0-32)"),
        Malformed("bad IPv6 prefix length", rules("network:\n  - { action: deny, cidr: \"fd00::/200\" }\n"),
                  "agent.yaml:4:27: invalid prefix length '200' in cidr 'fd00::/200' (IPv6 allows 0-128)"),
        Malformed("bad port range", rules("network:\n  - { action: allow, cidr: \"::1\", ports: [\"9000-8000\"] }\n"),
                  "agent.yaml:4:43: invalid port range '9000-8000' (9000 is greater than 8000)"),
        Malformed("port out of range", rules("network:\n  - { action: allow, cidr: \"::1\", ports: [80, 70000] }\n"),
                  "agent.yaml:4:47: invalid port '70000' in '70000' (ports are 1-65535)"),
        Malformed("ports not a list", rules("network:\n  - { action: allow, cidr: \"::1\", ports: 443 }\n"),
                  "agent.yaml:4:42: 'ports' must be a list, found '443'"),
        Malformed("empty ports", rules("network:\n  - { action: allow, cidr: \"::1\", ports: [] }\n"),
                  "agent.yaml:4:42: empty 'ports' list (omit 'ports' to match every port)"),
        Malformed("bad protocol", rules("network:\n  - { action: allow, cidr: \"::1\", protocol: sctp }\n"),
                  "agent.yaml:4:45: invalid value 'sctp' for 'protocol' (expected tcp, udp, icmp or any)"),
        Malformed("dot-dot in path", rules("file:\n  - { action: deny, path: /etc/../shadow }\n"),
                  "agent.yaml:4:27: '..' is not allowed in paths (rules must be unambiguous): '/etc/../shadow'"),
        Malformed("relative path", rules("file:\n  - { action: deny, path: .ssh/id_rsa }\n"),
                  "agent.yaml:4:27: path '.ssh/id_rsa' is not absolute (start it with '/', '~/' or '${workspace}/')"),
        Malformed("unsupported glob", rules("file:\n  - { action: deny, path: \"/home/*/.ssh/[ab]\" }\n"),
                  "agent.yaml:4:27: unsupported glob character '[' in '/home/*/.ssh/[ab]': patterns have '*' (within a component) and '**' (whole components) only"),
        Malformed("unknown variable", rules("file:\n  - { action: deny, path: \"${HOME}/.ssh\" }\n"),
                  "agent.yaml:4:27: unknown variable '${HOME}' in '${HOME}/.ssh' (only ${workspace} and ${home} are defined)"),
        Malformed("another user's home", rules("file:\n  - { action: deny, path: ~root/.ssh }\n"),
                  "agent.yaml:4:27: '~root/.ssh': only '~' alone (the session user's home) may start a path, not '~user'"),
        Malformed("host with a mid-name wildcard", rules("network:\n  - { action: allow, host: \"api.*.com\" }\n"),
                  "agent.yaml:4:28: host 'api.*.com': '*' is allowed only as the whole first label ('*.example.com') or alone ('*')"),
        Malformed("host with a partial wildcard label", rules("network:\n  - { action: allow, host: \"*x.github.com\" }\n"),
                  "agent.yaml:4:28: host '*x.github.com': '*' is allowed only as the whole first label ('*.example.com') or alone ('*')"),
        Malformed("host with an empty label", rules("network:\n  - { action: allow, host: a..b.com }\n"),
                  "agent.yaml:4:28: host 'a..b.com' has an empty label"),
        Malformed("host not in xn-- form", rules("network:\n  - { action: allow, host: bücher.de }\n"),
                  "agent.yaml:4:28: host 'bücher.de' contains a non-ASCII character; write international names in their xn-- form"),
        Malformed("host with a space", rules("network:\n  - { action: allow, host: \"a b.com\" }\n"),
                  "agent.yaml:4:28: host 'a b.com' contains ' '; write international names in their xn-- form"),
        Malformed("host label too long", rules("network:\n  - { action: allow, host: " + String(repeating: "a", count: 64) + ".com }\n"),
                  "agent.yaml:4:28: host '" + String(repeating: "a", count: 64) + ".com' has a label longer than 63 characters"),
        Malformed("host and cidr", rules("network:\n  - { action: allow, cidr: 1.2.3.4/32, host: github.com }\n"),
                  "agent.yaml:4:40: network rule takes one of 'cidr', 'host' or 'unix', not 'cidr' and 'host'"),
        Malformed("host with icmp ports", rules("network:\n  - { action: allow, host: github.com, protocol: icmp, ports: [1] }\n"),
                  "agent.yaml:4:56: 'ports' does not apply to 'protocol: icmp' (ICMP has no ports)"),
        Malformed("missing version", "name: t\nfile: []\n",
                  "agent.yaml:1:1: missing required key 'version' (add 'version: 1')"),
        Malformed("version 2", "version: 2\nname: t\n",
                  "agent.yaml:1:10: unsupported policy version 2 (this ebguard reads version 1)"),
        Malformed("version not a number", "version: one\nname: t\n",
                  "agent.yaml:1:10: 'version' must be a whole number, found 'one'"),
        Malformed("missing name", "version: 1\n", "agent.yaml:1:1: missing required key 'name'"),
        Malformed("duplicate top-level key", "version: 1\nname: a\nname: b\n",
                  "agent.yaml:3:1: duplicate key 'name' in policy (first given at 2:1)"),
        Malformed("duplicate rule key", rules("file:\n  - { action: deny, path: /a, path: /b }\n"),
                  "agent.yaml:4:31: duplicate key 'path' in file rule (first given at 4:21)"),
        Malformed("empty name", "version: 1\nname: \"\"\n", "agent.yaml:2:7: 'name' must not be empty"),
        Malformed("name with a space", "version: 1\nname: my policy\n",
                  "agent.yaml:2:7: invalid character ' ' in name 'my policy' (use A-Z, a-z, 0-9, '.', '_' and '-')"),
        Malformed("name too long", "version: 1\nname: " + String(repeating: "n", count: 65) + "\n",
                  "agent.yaml:2:7: 'name' is longer than 64 characters"),
        Malformed("unix with ports", rules("network:\n  - { action: deny, unix: /run/docker.sock, ports: [1] }\n"),
                  "agent.yaml:4:45: 'ports' does not apply to a 'unix' rule"),
        Malformed("unix and cidr", rules("network:\n  - { action: deny, cidr: \"::1\", unix: /run/x.sock }\n"),
                  "agent.yaml:4:34: network rule takes one of 'cidr', 'host' or 'unix', not 'cidr' and 'unix'"),
        Malformed("network rule with neither", rules("network:\n  - { action: deny, ports: [22] }\n"),
                  "agent.yaml:4:5: network rule needs 'cidr', 'host' or 'unix'"),
        Malformed("relative unix path", rules("network:\n  - { action: deny, unix: docker.sock }\n"),
                  "agent.yaml:4:27: path 'docker.sock' is not absolute (start it with '/', '~/' or '${workspace}/')"),
        Malformed("YAML syntax error", "version: 1\nname: [t\n",
                  "agent.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 2:7)"),
        Malformed("YAML scanner error", "version: 1\nname: a: b\n",
                  "agent.yaml:2:8: YAML syntax error: mapping values are not allowed in this context"),
        Malformed("tab indentation", "version: 1\n\tname: t\n",
                  "agent.yaml:2:1: YAML syntax error: found a tab character that violates indentation (while scanning a plain scalar at 1:10)"),
        Malformed("two documents", "version: 1\nname: t\n---\nversion: 1\n",
                  "agent.yaml:3:1: YAML syntax error: but found another document (expected a single document in the stream at 1:1)"),
        Malformed("empty document", "# nothing here\n",
                  "agent.yaml:1:1: empty policy (expected a mapping with 'version' and 'name')"),
        Malformed("not a mapping", "- version: 1\n", "agent.yaml:1:1: a policy must be a mapping of keys, found a list"),
        Malformed("access on an exec rule", rules("exec:\n  - { action: deny, path: /usr/bin/nc, access: [exec] }\n"),
                  "agent.yaml:4:40: 'access' does not apply to exec rules (use a file rule with access [exec] for code loading)"),
        Malformed("unknown access kind", rules("file:\n  - { action: deny, path: /x, access: [read, open] }\n"),
                  "agent.yaml:4:46: unknown access kind 'open' (expected read, write, create, delete, rename, chmod or exec)"),
        Malformed("misspelled access kind", rules("file:\n  - { action: deny, path: /x, access: [wirte] }\n"),
                  "agent.yaml:4:40: unknown access kind 'wirte' (did you mean 'write'?)"),
        Malformed("duplicate access kind", rules("file:\n  - { action: deny, path: /x, access: [read, read] }\n"),
                  "agent.yaml:4:46: duplicate access kind 'read'"),
        Malformed("empty access", rules("file:\n  - { action: deny, path: /x, access: [] }\n"),
                  "agent.yaml:4:39: empty 'access' list (omit 'access' to apply to every kind)"),
        Malformed("access not a list", rules("file:\n  - { action: deny, path: /x, access: read }\n"),
                  "agent.yaml:4:39: 'access' must be a list, found 'read'"),
        Malformed("name with a slash", rules("file:\n  - { action: deny, name: .ssh/id_rsa }\n"),
                  "agent.yaml:4:27: 'name' is a single path component and cannot contain '/': use 'path' for '.ssh/id_rsa'"),
        Malformed("name with two stars", rules("file:\n  - { action: deny, name: \"*.p*m\" }\n"),
                  "agent.yaml:4:27: '*.p*m' in 'name: *.p*m' has 2 '*': a component takes at most one (the kernel matches prefix*suffix)"),
        Malformed("path and name", rules("file:\n  - { action: deny, path: /x, name: x }\n"),
                  "agent.yaml:4:31: file rule takes 'path' or 'name', not both"),
        Malformed("neither path nor name", rules("file:\n  - { action: deny, access: [read] }\n"),
                  "agent.yaml:4:5: file rule needs 'path' or 'name'"),
        Malformed("missing action", rules("exec:\n  - path: /usr/bin/nc\n"),
                  "agent.yaml:4:5: exec rule is missing 'action' (allow, deny, audit or ask)"),
        Malformed("empty argv", rules("exec:\n  - { action: ask, path: /usr/bin/git, argv: [] }\n"),
                  "agent.yaml:4:46: empty 'argv' (omit it to match every invocation)"),
        Malformed("argv on a subtree", rules("exec:\n  - { action: ask, path: /usr/bin/**, argv: [-rf] }\n"),
                  "agent.yaml:4:45: 'argv' needs one program: use an exact 'path' or a 'name', not a subtree or pattern"),
        Malformed("ask_timeout out of range", "version: 1\nname: t\nask_timeout: 0\n",
                  "agent.yaml:3:14: 'ask_timeout' must be between 1 and 86400 seconds, found 0"),
        Malformed("bad on_timeout", "version: 1\nname: t\non_timeout: ask\n",
                  "agent.yaml:3:13: invalid value 'ask' for 'on_timeout' (expected deny or allow)"),
        Malformed("yes is not a boolean", "version: 1\nname: t\nno_new_privs: yes\n",
                  "agent.yaml:3:15: 'no_new_privs' must be true or false, found 'yes'"),
        Malformed("non-string key", "version: 1\nname: t\n? [a]\n: b\n",
                  "agent.yaml:3:3: keys must be plain strings, found a list in policy"),
        Malformed("every error, in file order", """
            version: 3
            name: ok
            netwrok: []
            file:
              - { action: deny, path: relative }
              - { action: allow, path: /ok }
              - { action: maybe, name: a/b }
            exec:
              - { action: deny }
            """,
                  "agent.yaml:1:10: unsupported policy version 3 (this ebguard reads version 1)",
                  "agent.yaml:3:1: unknown key 'netwrok' in policy (did you mean 'network'?)",
                  "agent.yaml:5:27: path 'relative' is not absolute (start it with '/', '~/' or '${workspace}/')",
                  "agent.yaml:7:15: invalid value 'maybe' for 'action' (expected allow, deny, audit or ask)",
                  "agent.yaml:7:28: 'name' is a single path component and cannot contain '/': use 'path' for 'a/b'",
                  "agent.yaml:9:5: exec rule needs 'path' or 'name'"),
        Malformed("unless on an allow", rules("""
            file:
              - { action: allow, path: /x, access: [write], unless: git }
            """), "agent.yaml:4:57: 'unless: git' applies only to 'action: deny' (the exception lets a vetted git write)"),
        Malformed("unless without access", rules("""
            file:
              - { action: deny, path: /x, unless: git }
            """), "agent.yaml:4:39: 'unless: git' needs 'access' listing only write kinds (write, create, delete, rename, chmod): git is let through for writes only"),
        Malformed("unless with reads", rules("""
            file:
              - { action: deny, path: /x, access: [read, write], unless: git }
            """), "agent.yaml:4:62: 'unless: git' needs 'access' listing only write kinds (write, create, delete, rename, chmod): git is let through for writes only"),
        Malformed("unless names another program", rules("""
            file:
              - { action: deny, path: /x, access: [write], unless: svn }
            """), "agent.yaml:4:56: invalid value 'svn' for 'unless' (expected git)"),
        Malformed("unless on an exec rule", rules("""
            exec:
              - { action: deny, path: /x, unless: git }
            """), "agent.yaml:4:31: unknown key 'unless' in exec rule"),
    ]

    @Test(arguments: cases)
    func rejected(_ c: Malformed) {
        #expect(errors(c.yaml, file: "agent.yaml") == c.expected)
    }

    @Test func tableIsLargeEnough() {
        #expect(Self.cases.count >= 20)
    }

    @Test func invalidPolicyYieldsNoPolicy() {
        // One bad rule among good ones: nothing comes back, not the good part.
        let yaml = rules("file:\n  - { action: deny, path: /a }\n  - { action: deny, path: b }\n")
        #expect(throws: PolicyError.self) { try Policy.parse(yaml: yaml, file: "x.yaml") }
    }
}
