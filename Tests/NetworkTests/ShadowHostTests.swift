import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Shadow mode on the host-name path (issue 19): a shadow session's resolver forwards a name
/// its host rules deny instead of answering NXDOMAIN, the connect to the answer goes through,
/// and both are reported as would_deny with the rule. Real `ebguard run`, real dnsmasq, the
/// kernel's cgroup connect programs (these run on this host; no BPF-LSM needed).
@Suite(.enabled(if: TestEnvironment.isRoot, "needs root (cgroups, BPF); `make test` runs it as root"),
       .enabled(if: DnsmasqServer.executable != nil, "needs dnsmasq (Debian package dnsmasq-base; `make deps` installs it)"), .serialized)
struct ShadowHostTests {
    @Test func aShadowSessionResolvesAndReachesWhatItsHostRulesDenyAndSaysSo() throws {
        let dns = try HostEgressTests.server()
        let policy = HostEgressTests.policy.replacingOccurrences(of: "name: hosts\n", with: "name: hosts\nmode: shadow\n")
        #expect(policy.contains("mode: shadow"))
        let script = HostEgressTests.prelude + #"""
        say('before', connect(sys.argv[1]))
        d = resolve('denied.test'); say('denied', d); say('denied_connect', connect(d))
        a = resolve('allowed.test'); say('allowed', a); say('allowed_connect', connect(a))
        """#
        let result = try HostEgressTests().session(script, policy: policy, dns: dns, arguments: [HostEgressTests.allowedIP])
        let got = HostEgressTests().values(result.stdout)
        let context = "\(result.stdout)\n\(result.stderr)"
        #expect(result.status == 0, "\(context)")
        #expect(result.stderr.contains("SHADOW MODE"), "\(context)")
        #expect(got["before"] == "ok", "the network default is not enforced: \(context)")
        #expect(got["denied"] == HostEgressTests.deniedIP, "forwarded, not NXDOMAIN: \(context)")
        #expect(got["denied_connect"] == "ok", "\(context)")
        #expect(got["allowed"] == HostEgressTests.allowedIP && got["allowed_connect"] == "ok", "\(context)")
        #expect(dns.queriedNames().contains("denied.test"), "the name reached the upstream")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("would deny lookup of denied.test by network[4] (host denied.test)") }.count == 1,
                "\(result.stderr)")
        #expect(lines.filter { $0.contains("would deny (shadow, not enforced) connect \(HostEgressTests.deniedIP):")
            && $0.contains("[denied.test]") && $0.contains("by rule network[4]") }.count == 1,
                "the connect is decided by the name's rule, through its answer: \(result.stderr)")
        #expect(lines.filter { $0.contains("would deny (shadow, not enforced) connect \(HostEgressTests.allowedIP):")
            && $0.contains("by the network default") }.count == 1, "\(result.stderr)")
        #expect(!result.stderr.contains("denied "), "nothing refused: \(result.stderr)")
    }
}
