import Foundation
import EbguardPolicy
import Testing

@Suite("Parsing")
struct ParsingTests {
    static let issueExample = """
        version: 1
        name: coding-agent
        description: optional text
        defaults:
          exec: allow
          file: allow
          network: deny
        exec:
          - { action: deny,  path: /usr/bin/docker }
          - { action: deny,  path: /usr/sbin/** }
          - { action: ask,   path: /usr/bin/git, argv: [reset, --hard] }
        file:
          - { action: allow, path: "${workspace}/**", access: [read, write, create, delete] }
          - { action: deny,  path: "~/.ssh/**",       access: [read, write] }
          - { action: deny,  name: .env,              access: [read] }
          - { action: deny,  path: /etc/shadow }
        network:
          - { action: allow, cidr: 127.0.0.0/8 }
          - { action: allow, cidr: 0.0.0.0/0, ports: [443], protocol: tcp }
          - { action: deny,  cidr: 169.254.169.254/32 }
          - { action: deny,  unix: /var/run/docker.sock }
        """

    @Test func issueExampleParses() throws {
        let p = try parse(Self.issueExample, file: "agent.yaml")
        #expect(p.version == 1)
        #expect(p.name == "coding-agent")
        #expect(p.description == "optional text")
        #expect(p.defaults == PolicyDefaults(exec: .allow, file: .allow, network: .deny))
        #expect(p.noNewPrivs == true)
        #expect(p.askTimeout == 120)
        #expect(p.onTimeout == .deny)
        #expect(p.exec.count == 3 && p.file.count == 4 && p.network.count == 4)

        #expect(p.exec[0].id.description == "exec[0]")
        #expect(p.exec[0].location == SourceLocation(file: "agent.yaml", line: 9, column: 5))
        #expect(p.exec[0].verdict == .deny)
        #expect(p.exec[0].target == .path(PathPattern(anchor: .root, components: ["usr", "bin", "docker"], isSubtree: false)))
        #expect(p.exec[1].target == .path(PathPattern(anchor: .root, components: ["usr", "sbin"], isSubtree: true)))
        #expect(p.exec[2].verdict == .ask)
        #expect(p.exec[2].argv?.tokens == ["reset", "--hard"])

        #expect(p.file[0].target == .path(PathPattern(anchor: .workspace, components: [], isSubtree: true)))
        #expect(p.file[0].access == [.read, .write, .create, .delete])
        #expect(p.file[1].target == .path(PathPattern(anchor: .home, components: [".ssh"], isSubtree: true)))
        #expect(p.file[2].target == .name(".env"))
        #expect(p.file[2].access == .read)
        #expect(p.file[3].access == .all)
        #expect(p.file[3].id == RuleID(.file, 3))
        #expect(p.file[3].location.line == 16)

        guard case .cidr(let net, let ports, let proto) = p.network[1].target else {
            Issue.record("network[1] is not a cidr rule")
            return
        }
        #expect(net.description == "0.0.0.0/0")
        #expect(ports.description == "443")
        #expect(proto == .tcp)
        guard case .cidr(_, let anyPorts, let anyProto) = p.network[0].target else {
            Issue.record("network[0] is not a cidr rule")
            return
        }
        #expect(anyPorts.isAny && anyProto == .any)
        #expect(p.network[3].target == .unix(try PathPattern(parsing: "/var/run/docker.sock")))
    }

    @Test func minimalPolicyTakesEveryDefault() throws {
        let p = try parse("version: 1\nname: m\n")
        #expect(p.defaults == PolicyDefaults(exec: .allow, file: .allow, network: .allow))
        #expect(p.description == nil)
        #expect(p.noNewPrivs && p.askTimeout == 120 && p.onTimeout == .deny)
        #expect(p.exec.isEmpty && p.file.isEmpty && p.network.isEmpty)
    }

    @Test func sessionSettings() throws {
        let p = try parse("""
            version: 1
            name: s.1_x-Y
            no_new_privs: false
            ask_timeout: 30
            on_timeout: allow
            defaults: { exec: audit, file: ask }
            """)
        #expect(p.name == "s.1_x-Y")
        #expect(!p.noNewPrivs)
        #expect(p.askTimeout == 30)
        #expect(p.onTimeout == .allow)
        #expect(p.defaults == PolicyDefaults(exec: .audit, file: .ask, network: .allow))
    }

    @Test func emptySectionsAreEmptyLists() throws {
        let p = try parse("version: 1\nname: e\nexec:\nfile: []\nnetwork: ~\n")
        #expect(p.exec.isEmpty && p.file.isEmpty && p.network.isEmpty)
    }

    @Test func blockStyleRulesAndEveryAccessKind() throws {
        let p = try parse("""
            version: 1
            name: b
            file:
              - action: audit
                path: /srv/data/
                access: [read, write, create, delete, rename, chmod, exec]
              - action: deny
                name: id_rsa
            exec:
              - action: deny
                name: nc
            """)
        #expect(p.file[0].location == SourceLocation(file: "p.yaml", line: 4, column: 5))
        #expect(p.file[0].verdict == .audit)
        #expect(p.file[0].access == .all)
        #expect(p.file[0].target.description == "/srv/data")
        #expect(p.file[1].target == .name("id_rsa"))
        #expect(p.exec[0].target == .name("nc"))
        #expect(p.exec[0].id == RuleID(.exec, 0))
    }

    @Test func networkForms() throws {
        let p = try parse("""
            version: 1
            name: n
            network:
              - { action: allow, cidr: "2001:db8::/32", ports: [22, "8000-8999", 443], protocol: udp }
              - { action: deny, cidr: 10.0.0.1 }
              - { action: ask, cidr: "::ffff:10.0.0.0/104" }
              - { action: deny, unix: "~/.docker/run/**" }
            """)
        guard case .cidr(let v6, let ports, let proto) = p.network[0].target,
              case .cidr(let host, _, _) = p.network[1].target,
              case .cidr(let mapped, _, _) = p.network[2].target
        else {
            Issue.record("expected cidr rules")
            return
        }
        #expect(v6.description == "2001:db8::/32")
        #expect(ports.description == "22,443,8000-8999")
        #expect(proto == .udp)
        #expect(host.description == "10.0.0.1/32")
        #expect(mapped.description == "10.0.0.0/8")
        #expect(p.network[3].target == .unix(PathPattern(anchor: .home, components: [".docker", "run"], isSubtree: true)))
    }

    @Test func bareIPv6InBlockStyle() throws {
        let p = try parse("version: 1\nname: v6\nnetwork:\n  - action: allow\n    cidr: ::1\n")
        guard case .cidr(let net, _, _) = p.network[0].target else {
            Issue.record("expected a cidr rule")
            return
        }
        #expect(net.description == "::1/128")
    }

    @Test func anchorsAndAliasesAreResolved() throws {
        let p = try parse("""
            version: 1
            name: a
            file:
              - &secret { action: deny, path: /etc/shadow, access: [read] }
              - *secret
            """)
        #expect(p.file.count == 2)
        #expect(p.file[1].target == p.file[0].target)
        #expect(p.file[1].id == RuleID(.file, 1))
    }

    @Test func loadReadsFromDisk() throws {
        let path = "/tmp/ebguard-policy-test-\(getpid()).yaml"
        try "version: 1\nname: disk\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Policy.load(path: path).name == "disk")
        #expect(throws: PolicyError.self) { try Policy.load(path: path + ".missing") }
        do {
            _ = try Policy.load(path: path + ".missing")
        } catch {
            #expect(error.description == "\(path).missing: no such file")
        }
    }
}
