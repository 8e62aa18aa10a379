import EbguardPolicy
import Testing

@Suite("Network: addresses, prefixes, ports, protocols")
struct NetworkTests {
    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("::1", "::1"),
        ("::", "::"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("fd00:ec2::254", "fd00:ec2::254"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("::ffff:a01:203", "10.1.2.3"),
        ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
    ])
    func parsesAddresses(text: String, canonical: String) {
        #expect(IPAddress(text)?.description == canonical)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ":::",
                      "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "1:2:3:4:5:6:7::8:9", "fe80::1%eth0",
                      "::1.2.3", "1:2:3:4:5:6:7:8::"])
    func rejectsAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("192.168.1.255/23", "192.168.0.0/23"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("169.254.169.254", "169.254.169.254/32"),
        ("::/0", "::/0"),
        ("fd00:ec2::254/128", "fd00:ec2::254/128"),
        ("2001:db8:abcd:1234::1/48", "2001:db8:abcd::/48"),
        ("::1", "::1/128"),
        ("::ffff:127.0.0.0/104", "127.0.0.0/8"),
        ("::ffff:169.254.169.254/128", "169.254.169.254/32"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::ffff:0:0/95", "::fffe:0:0/95"),
    ])
    func parsesAndMasksCIDRs(text: String, canonical: String) throws {
        #expect(try IPNetwork(parsing: text).description == canonical)
    }

    @Test(arguments: [
        ("10.0.0.0/33", "invalid prefix length '33' in cidr '10.0.0.0/33' (IPv4 allows 0-32)"),
        ("10.0.0.0/", "invalid prefix length '' in cidr '10.0.0.0/' (IPv4 allows 0-32)"),
        ("10.0.0.0/-1", "invalid prefix length '-1' in cidr '10.0.0.0/-1' (IPv4 allows 0-32)"),
        ("10.0.0.0/08", "invalid prefix length '08' in cidr '10.0.0.0/08' (IPv4 allows 0-32)"),
        ("::/129", "invalid prefix length '129' in cidr '::/129' (IPv6 allows 0-128)"),
        ("10.0.0.256/32", "invalid address '10.0.0.256' in cidr '10.0.0.256/32'"),
        ("example.com/32", "invalid address 'example.com' in cidr 'example.com/32'"),
        ("10.0.0.0/8/9", "invalid cidr '10.0.0.0/8/9'"),
        ("fe80::1%eth0/64", "invalid address 'fe80::1%eth0' in cidr 'fe80::1%eth0/64' (zone ids are not supported)"),
    ])
    func rejectsCIDRs(text: String, message: String) {
        #expect(throws: PolicyValueError(message)) { try IPNetwork(parsing: text) }
    }

    @Test func containment() throws {
        let v4 = try IPNetwork(parsing: "10.0.0.0/8")
        #expect(v4.contains(ip("10.255.1.2")))
        #expect(!v4.contains(ip("11.0.0.1")))
        #expect(v4.contains(ip("::ffff:10.9.9.9")))
        #expect(!v4.contains(ip("::a09:909")))
        let v6 = try IPNetwork(parsing: "2001:db8::/32")
        #expect(v6.contains(ip("2001:db8:ffff::1")))
        #expect(!v6.contains(ip("2001:db9::1")))
        // Families never mix: ::/0 is not 0.0.0.0/0, and mapped addresses are IPv4.
        let all6 = try IPNetwork(parsing: "::/0")
        #expect(!all6.contains(ip("1.2.3.4")))
        #expect(!all6.contains(ip("::ffff:1.2.3.4")))
        #expect(try IPNetwork(parsing: "0.0.0.0/0").contains(ip("::ffff:1.2.3.4")))
        #expect(try IPNetwork(parsing: "192.168.1.0/31").contains(ip("192.168.1.1")))
        #expect(!(try IPNetwork(parsing: "192.168.1.0/31").contains(ip("192.168.1.2"))))
    }

    @Test func portRanges() throws {
        #expect(try PortRange(parsing: "443").description == "443")
        #expect(try PortRange(parsing: "8000-8999").description == "8000-8999")
        #expect(try PortRange(parsing: "1-65535").contains(65535))
        #expect(throws: PolicyValueError("invalid port range '9000-8000' (9000 is greater than 8000)")) {
            try PortRange(parsing: "9000-8000")
        }
        #expect(throws: PolicyValueError("invalid port '0' in '0' (ports are 1-65535)")) { try PortRange(parsing: "0") }
        #expect(throws: PolicyValueError("invalid port '65536' in '1-65536' (ports are 1-65535)")) {
            try PortRange(parsing: "1-65536")
        }
        #expect(throws: PolicyValueError("invalid port 'http' in 'http' (ports are 1-65535)")) { try PortRange(parsing: "http") }
        let set = PortSet(ranges: [try PortRange(parsing: "8000-8999"), try PortRange(parsing: "443"),
                                   try PortRange(parsing: "8500-9001"), try PortRange(parsing: "444")])
        #expect(set.description == "443-444,8000-9001")
        #expect(set.contains(9001) && set.contains(443) && !set.contains(445) && !set.contains(7999))
        #expect(PortSet.any.contains(1) && PortSet.any.contains(65535))
    }

    static let policy = """
        network:
          - { action: allow, cidr: 127.0.0.0/8 }
          - { action: allow, cidr: "::1/128" }
          - { action: allow, cidr: 0.0.0.0/0, ports: [443, 80], protocol: tcp }
          - { action: allow, cidr: "::/0", ports: [443], protocol: tcp }
          - { action: allow, cidr: 0.0.0.0/0, ports: [53], protocol: udp }
          - { action: deny,  cidr: 169.254.0.0/16 }
          - { action: deny,  cidr: "fd00:ec2::254/128" }
          - { action: audit, cidr: 10.0.0.0/8, ports: ["8000-8999"] }
          - { action: deny,  cidr: 10.0.0.0/8, ports: ["8080"] }
          - { action: ask,   cidr: 10.1.0.0/16, protocol: udp }
        """

    @Test func decideConnect() throws {
        let c = try compile(Self.policy, defaults: "defaults: { network: deny }\n")
        func d(_ a: String, _ port: UInt16, _ p: TransportProtocol) -> Decision {
            c.decideConnect(address: ip(a), port: port, protocol: p)
        }
        #expect(d("127.0.0.53", 53, .udp) == Decision(.allow, RuleID(.network, 0)))
        #expect(d("::1", 8080, .tcp) == Decision(.allow, RuleID(.network, 1)))
        #expect(d("::ffff:127.0.0.1", 5432, .tcp) == Decision(.allow, RuleID(.network, 0)))
        #expect(d("140.82.112.3", 443, .tcp) == Decision(.allow, RuleID(.network, 2)))
        #expect(d("140.82.112.3", 80, .tcp) == Decision(.allow, RuleID(.network, 2)))
        #expect(d("140.82.112.3", 443, .udp) == Decision(.deny, nil))
        #expect(d("140.82.112.3", 22, .tcp) == Decision(.deny, nil))
        #expect(d("2606:50c0::1", 443, .tcp) == Decision(.allow, RuleID(.network, 3)))
        #expect(d("2606:50c0::1", 80, .tcp) == Decision(.deny, nil))
        #expect(d("8.8.8.8", 53, .udp) == Decision(.allow, RuleID(.network, 4)))
        #expect(d("8.8.8.8", 53, .tcp) == Decision(.deny, nil))
        // The longer prefix wins over the port-specific /0 allow.
        #expect(d("169.254.169.254", 80, .tcp) == Decision(.deny, RuleID(.network, 5)))
        #expect(d("::ffff:169.254.169.254", 80, .tcp) == Decision(.deny, RuleID(.network, 5)))
        #expect(d("fd00:ec2::254", 443, .tcp) == Decision(.deny, RuleID(.network, 6)))
        // Same prefix, both match port 8080: the tie goes to deny.
        #expect(d("10.2.3.4", 8080, .tcp) == Decision(.deny, RuleID(.network, 8)))
        #expect(d("10.2.3.4", 8081, .tcp) == Decision(.audit, RuleID(.network, 7)))
        #expect(d("10.2.3.4", 443, .tcp) == Decision(.allow, RuleID(.network, 2)))
        // A /16 beats the /8 rules, but only for udp.
        #expect(d("10.1.3.4", 8080, .udp) == Decision(.ask, RuleID(.network, 9)))
        #expect(d("10.1.3.4", 8080, .tcp) == Decision(.deny, RuleID(.network, 8)))
    }

    @Test func unixAndCidrRulesAreSeparate() throws {
        let c = try compile("""
            network:
              - { action: deny, unix: /run/docker.sock }
              - { action: allow, cidr: 0.0.0.0/0 }
            """)
        #expect(c.addressRules.map(\.id) == [RuleID(.network, 1)])
        #expect(c.unixRules.map(\.id) == [RuleID(.network, 0)])
        #expect(c.decideUnix(path: "/run/docker.sock") == Decision(.deny, RuleID(.network, 0)))
        #expect(c.decideUnix(path: "/run/other.sock") == Decision(.allow, nil))
        #expect(c.decideConnect(address: ip("1.2.3.4"), port: 1, protocol: .udp) == Decision(.allow, RuleID(.network, 1)))
    }
}
