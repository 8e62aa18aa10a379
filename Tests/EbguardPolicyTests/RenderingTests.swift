import EbguardPolicy
import Foundation
import Testing

@Suite("Rendering and warnings")
struct RenderingTests {
    static let policy = """
        version: 1
        name: r
        defaults: { network: deny }
        exec:
          - { action: ask, path: /usr/bin/git, argv: [reset, --hard] }
        file:
          - { action: allow, path: "${workspace}/**", access: [read, write] }
          - { action: deny, name: .env, access: [read] }
          - { action: deny, path: /etc/shadow }
        network:
          - { action: allow, cidr: 0.0.0.0/0, ports: [443, "8000-8999"], protocol: tcp }
          - { action: deny, unix: /run/docker.sock }
          - { action: deny, cidr: "fd00:ec2::254" }
        """

    @Test func text() throws {
        let c = try parse(Self.policy).compile(in: testContext)
        #expect(c.renderText() == """
            policy: r
            context: home=/home/u workspace=/home/u/proj
            defaults: exec=allow file=allow network=deny
            session: no_new_privs=true ask_timeout=120s on_timeout=deny
            exec[0]    ask   exact   /usr/bin/git argv=[reset --hard]
            file[0]    allow subtree /home/u/proj/** access=read,write
            file[1]    deny  name    .env access=read
            file[2]    deny  exact   /etc/shadow access=all
            network[0] allow cidr    0.0.0.0/0 ports=443,8000-8999 protocol=tcp
            network[1] deny  unix    /run/docker.sock
            network[2] deny  cidr    fd00:ec2::254/128 ports=any protocol=any

            """)
    }

    @Test func controlCharactersStayOnOneLine() throws {
        let c = try parse("version: 1\nname: c\nfile:\n  - { action: deny, path: \"/tmp/a\\nb\" }\n").compile(in: testContext)
        #expect(c.renderText().hasSuffix("file[0] deny  exact   /tmp/a\\x0ab access=all\n"))
    }

    @Test func json() throws {
        let c = try parse(Self.policy, file: "r.yaml").compile(in: testContext)
        let text = c.renderJSON()
        #expect(text == c.renderJSON())
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(object["name"] as? String == "r")
        #expect(object["version"] as? Int == 1)
        #expect(object["description"] is NSNull)
        #expect((object["defaults"] as? [String: String])?["network"] == "deny")
        let exec = object["exec"] as! [[String: Any]]
        #expect(exec[0]["argv"] as? [String] == ["reset", "--hard"])
        #expect(exec[0]["source"] as? String == "r.yaml:5:5")
        let file = object["file"] as! [[String: Any]]
        #expect(file[0]["match"] as? String == "subtree")
        #expect(file[0]["path"] as? String == "/home/u/proj")
        #expect(file[0]["access"] as? [String] == ["read", "write"])
        #expect(file[1]["name"] as? String == ".env")
        let network = object["network"] as! [[String: Any]]
        #expect(network[0]["type"] as? String == "cidr")
        #expect(network[0]["prefix_length"] as? Int == 0)
        #expect(network[0]["protocol"] as? String == "tcp")
        let ports = network[0]["ports"] as! [[String: Int]]
        #expect(ports == [["low": 443, "high": 443], ["low": 8000, "high": 8999]])
        #expect(network[1]["type"] as? String == "unix")
        #expect(network[1]["path"] as? String == "/run/docker.sock")
        #expect(network[2]["family"] as? String == "ipv6")
        #expect(network[2]["ports"] == nil)
        #expect(text.contains("\"path\" : \"/home/u/proj\""))  // slashes are not escaped
    }

    @Test func basenameOverriddenByAWeakerPathRule() throws {
        let c = try parse(Self.policy, file: "r.yaml").compile(in: testContext)
        #expect(c.warnings().map(\.description) == [
            "r.yaml:8:5: warning: file[1] (deny name .env) does not apply under /home/u/proj/**: file[0] is more specific and says allow",
        ])
    }

    @Test func shadowedRules() throws {
        let c = try parse("""
            version: 1
            name: s
            file:
              - { action: deny,  path: "~/.ssh/**" }
              - { action: allow, path: "${home}/.ssh/**", access: [read] }
              - { action: deny,  path: /x, access: [read] }
              - { action: deny,  path: /x, access: [read, write] }
              - { action: audit, path: /y, access: [read] }
              - { action: allow, path: /y, access: [read, write] }
            exec:
              - { action: allow, path: /usr/bin/git }
              - { action: deny,  path: /usr/bin/git }
              - { action: ask,   path: /usr/bin/git, argv: [push] }
            network:
              - { action: allow, cidr: 10.0.0.0/8, ports: [22] }
              - { action: deny,  cidr: 10.1.2.3/8, ports: [22] }
              - { action: deny,  cidr: 10.0.0.0/8, ports: [23] }
            """, file: "s.yaml").compile(in: testContext)
        #expect(c.warnings().map(\.description) == [
            "s.yaml:11:5: warning: exec[0] (allow /usr/bin/git) never decides: exec[1] has the same program and the stronger verdict deny",
            "s.yaml:5:5: warning: file[1] (allow /home/u/.ssh/**) never decides: file[0] has the same path and the stronger verdict deny",
            "s.yaml:7:5: warning: file[3] (deny /x) never decides for read: it repeats file[2]",
            "s.yaml:9:5: warning: file[5] (allow /y) never decides for read: file[4] has the same path and the stronger verdict audit",
            "s.yaml:15:5: warning: network[0] (allow 10.0.0.0/8) never decides: network[1] has the same addresses, ports and protocol and the stronger verdict deny",
        ])
    }
}
