import Foundation
import Testing

/// The layers point one way (Package.swift's module map): only EbguardBPF and EbguardSystem
/// import C modules for their own use; EbguardEnforcement reads the ABI header's structs (map
/// keys, event layouts) through an `internal import CEbguardABI`, so the compiler refuses any C
/// type in its public API; and the daemon, the doctor and the CLI reach the kernel through
/// EbguardEnforcement (its probes included), never EbguardBPF. SwiftPM lets
/// a target import a module it does not list when that module is built anyway, so the rule is
/// checked here.
struct LayeringTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// `import X` lines (any access level, `@_exported` too) of every Swift file of `module`,
    /// with the words before `import`.
    static func imports(of module: String) throws -> [(file: String, module: String, modifiers: [String])] {
        let directory = sources.appendingPathComponent(module)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty, "no Swift file in \(directory.path)")
        return try files.flatMap { file in
            try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").compactMap { line in
                let words = line.split(separator: " ").map(String.init)
                guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
                      words[..<index].allSatisfy({ ["@_exported", "public", "package", "internal", "private", "fileprivate"].contains($0) })
                else { return nil }
                return (file, words[index + 1], Array(words[..<index]))
            }
        }
    }

    @Test(arguments: ["EbguardDaemon", "ebguard", "EbguardPolicy", "EbguardAudit", "EbguardDNS", "EbguardLearn",
                      "EbguardEnforcement", "EbguardDoctor", "EbguardVersion"])
    func noModuleButEbguardBPFAndEbguardSystemImportsACModule(module: String) throws {
        let abiReaders = ["EbguardEnforcement"]
        let cModules = try Self.imports(of: module).filter { $0.module.hasPrefix("C") && $0.module != "Crypto" }
            .filter { !(abiReaders.contains(module) && $0.module == "CEbguardABI" && $0.modifiers == ["internal"]) }
        #expect(cModules.isEmpty, "\(cModules.map { "\($0.file): \(($0.modifiers + ["import", $0.module]).joined(separator: " "))" })")
    }

    @Test func ebguardBPFNoLongerReExportsTheABI() throws {
        #expect(try Self.imports(of: "EbguardBPF").allSatisfy { !$0.modifiers.contains("@_exported") })
    }

    @Test(arguments: ["EbguardDaemon", "EbguardDoctor", "ebguard"])
    func theDaemonTheDoctorAndTheCLIDoNotImportEbguardBPF(module: String) throws {
        let bpf = try Self.imports(of: module).filter { $0.module == "EbguardBPF" }
        #expect(bpf.isEmpty, "\(bpf)")
    }

    @Test func theCheckSeesImports() throws {
        // EbguardBPF's own C imports are found: the scan above is no rubber stamp.
        #expect(try Self.imports(of: "EbguardBPF").contains { $0.module == "CLibBPF" })
        #expect(try Self.imports(of: "EbguardDaemon").contains { $0.module == "EbguardEnforcement" })
    }
}
