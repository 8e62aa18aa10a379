@testable import EbguardDaemon
import EbguardPolicy
import Foundation
import Testing

/// The daemon's cache of compiled policies (registrations and `policy apply` go through it).
struct CompiledPoliciesTests {
    static func text(_ yaml: String, source: String = "/etc/ebguard/policies/p.yaml") -> PolicyText {
        PolicyText(source: source, yaml: yaml)
    }

    static let denyNetwork = "version: 1\nname: first\ndefaults: { exec: allow, file: allow, network: deny }\n"

    /// As the daemon calls it: the cache in front of the daemon's own compile.
    static func compile(_ cache: CompiledPolicies, _ text: PolicyText, home: String = "/home/u",
                        workspace: String = "/home/u/w") throws -> CompiledPolicy {
        try cache.compiled(text, home: home, workspace: workspace) {
            try Daemon.compile(text, home: home, workspace: workspace)
        }.policy
    }

    @Test func theSamePolicyIsCompiledOnceAndGivesWhatACompileGives() throws {
        let cache = CompiledPolicies()
        let first = try Self.compile(cache, Self.text(Self.denyNetwork))
        let again = try Self.compile(cache, Self.text(Self.denyNetwork))
        #expect(cache.misses == 1 && cache.hits == 1)
        #expect(again == first)
        #expect(again == (try Daemon.compile(Self.text(Self.denyNetwork), home: "/home/u", workspace: "/home/u/w")).policy)
    }

    /// What `ebguard run` applies to the command itself travels with the compiled form.
    @Test func theCommandsPrivilegesAreKeptWithThePolicy() throws {
        let cache = CompiledPolicies()
        let text = Self.text("version: 1\nname: caps\nno_new_privs: false\ncapabilities: [net_bind_service, CAP_SYS_PTRACE]\n")
        for _ in 0..<2 {
            let compiled = try cache.compiled(text, home: "/root", workspace: "/root") {
                try Daemon.compile(text, home: "/root", workspace: "/root")
            }
            #expect(compiled.policy.noNewPrivs == false)
            #expect(compiled.capabilities == ["net_bind_service", "sys_ptrace"])
        }
        #expect(cache.hits == 1)
        let plain = try Daemon.compile(Self.text("version: 1\nname: plain\n"), home: "/root", workspace: "/root")
        #expect(plain.policy.noNewPrivs && plain.capabilities.isEmpty)
    }

    /// The file changed on disk between two `ebguard run`s: the second session gets the new rules.
    @Test func anEditedPolicyFileIsCompiledAgainNotServedStale() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eg-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("policy.yaml")
        let cache = CompiledPolicies()
        func register() throws -> CompiledPolicy {
            // What `ebguard run` sends: the file's text as it is now.
            try Self.compile(cache, PolicyText(source: file.path, yaml: String(contentsOf: file, encoding: .utf8)))
        }
        try Self.denyNetwork.write(to: file, atomically: true, encoding: .utf8)
        let before = try register()
        #expect(before.name == "first" && before.defaults.network == .deny)
        // Same length and, on a coarse clock, the same mtime: only the content tells them apart.
        try Self.denyNetwork.replacingOccurrences(of: "network: deny", with: "network: ask ")
            .replacingOccurrences(of: "first", with: "other").write(to: file, atomically: true, encoding: .utf8)
        let after = try register()
        #expect(after.name == "other" && after.defaults.network == .ask)
        #expect(cache.misses == 2 && cache.hits == 0)
        // And back: the first text is still the first policy.
        try Self.denyNetwork.write(to: file, atomically: true, encoding: .utf8)
        #expect(try register() == before)
    }

    @Test func homeWorkspaceAndSourceAreEachPartOfTheKey() throws {
        let yaml = "version: 1\nname: ws\ndefaults: { exec: allow, file: deny, network: deny }\n"
            + "file:\n  - { action: allow, path: \"${workspace}/**\", access: [read, write] }\n  - { action: deny, path: \"~/.ssh/**\" }\n"
        let cache = CompiledPolicies()
        let a = try Self.compile(cache, Self.text(yaml), home: "/home/a", workspace: "/srv/a")
        let b = try Self.compile(cache, Self.text(yaml), home: "/home/a", workspace: "/srv/b")
        let c = try Self.compile(cache, Self.text(yaml), home: "/home/c", workspace: "/srv/a")
        let d = try Self.compile(cache, Self.text(yaml, source: "/elsewhere/p.yaml"), home: "/home/a", workspace: "/srv/a")
        #expect(cache.misses == 4 && cache.hits == 0)
        #expect(a.context.workspace == "/srv/a" && b.context.workspace == "/srv/b" && c.context.home == "/home/c")
        #expect(a.decideFile(path: "/srv/a/x", access: .write).verdict == .allow)
        #expect(b.decideFile(path: "/srv/a/x", access: .write).verdict == .deny)
        #expect(c.decideFile(path: "/home/c/.ssh/id_rsa", access: .read).verdict == .deny)
        #expect(d.file.first?.location.file == "/elsewhere/p.yaml" && a.file.first?.location.file == "/etc/ebguard/policies/p.yaml")
    }

    @Test func aBadPolicyIsReportedEveryTimeAndNotKept() throws {
        let cache = CompiledPolicies()
        let bad = Self.text("version: 1\nname: bad\ndefaults: { exec: allow, file: allow, network: maybe }\n")
        for _ in 0..<2 {
            #expect(throws: ControlError.self) { try Self.compile(cache, bad) }
        }
        #expect(cache.count == 0 && cache.misses == 2)
    }

    @Test func theLeastRecentlyUsedGoesFirstWhenFull() throws {
        let cache = CompiledPolicies(capacity: 2)
        func yaml(_ name: String) -> PolicyText { Self.text("version: 1\nname: \(name)\n") }
        _ = try Self.compile(cache, yaml("a"))
        _ = try Self.compile(cache, yaml("b"))
        _ = try Self.compile(cache, yaml("a"))      // a is now the newest
        _ = try Self.compile(cache, yaml("c"))      // b goes
        #expect(cache.count == 2 && cache.misses == 3 && cache.hits == 1)
        _ = try Self.compile(cache, yaml("a"))
        #expect(cache.hits == 2)
        _ = try Self.compile(cache, yaml("b"))
        #expect(cache.misses == 4)
    }
}
