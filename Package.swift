// swift-tools-version:6.0
import PackageDescription

// Module map of responsibilities (see ../shared/DESIGN.md):
//   CLibBPF, CBPFShims, CEbguardObjects  C interop; imported by EbguardBPF alone.
//   CEbguardABI                           the kernel/userspace ABI header (bpf/ebguard.h); imported by EbguardBPF,
//                                         and by EbguardEnforcement as `internal import` (map entries, event
//                                         layouts): no C type in its public API.
//   CEbguardProcess                       spawn/pidfd/peer-credential shims; imported by EbguardSystem alone.
//   EbguardBPF                            owners of libbpf objects, maps, ring buffers.
//   EbguardSystem                         cgroups, mounts, kernel facts; no BPF.
//   EbguardPolicy                         YAML -> model -> validation -> compiled rules; pure. Also the
//                                         pipeline's one outcome type, EventVerdict.
//   EbguardEnforcement                    compiled rules -> map entries, sessions, held execs, answers; the
//                                         typed pinned-map registry (KernelMaps); the kernel's events decoded
//                                         once into typed values (DecisionEvent, ProcessEvent) and their text;
//                                         the capability probes (Probes) that `doctor`, `run` and tests share.
//   EbguardDoctor                         `ebguard doctor`'s report, from EbguardSystem's facts and the probes.
//   EbguardVersion                        the version string, alone (every module may read it).
//   EbguardAudit                          hash-chained audit log, verify, OCSF export, forwarders.
//   EbguardDaemon                         the daemon: a ServiceGroup (loop: ring reader, control server,
//                                         decisions; audit trail; forwarders), sessions, event stream
//                                         (GovernedEvent and audit records rendered from typed subjects),
//                                         control socket; imports neither a C module nor EbguardBPF.
//   EbguardDNS                            the session resolver: DNS wire format, forwarding, limits; no BPF.
//   EbguardLearn                          learn/suggest/replay/review: recorded decisions -> policies; pure.
//   ebguard                               the executable; reaches the kernel only through EbguardEnforcement
//                                         and EbguardDaemon (no EbguardBPF, directly or through EbguardDoctor).
let package = Package(
    name: "ebguard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ebguard", targets: ["ebguard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibBPF", pkgConfig: "libbpf",
                       providers: [.apt(["libbpf-dev", "libelf-dev", "zlib1g-dev"])]),
        .target(name: "CBPFShims", dependencies: ["CLibBPF"]),
        .target(name: "CEbguardABI"),
        .target(name: "CEbguardObjects"),
        .target(name: "EbguardBPF", dependencies: [
            "CLibBPF", "CBPFShims", "CEbguardABI", "CEbguardObjects", "EbguardSystem",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .target(name: "CEbguardProcess"),
        .target(name: "EbguardSystem", dependencies: ["CEbguardProcess", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "EbguardPolicy", dependencies: ["Yams"]),
        .target(name: "EbguardDoctor", dependencies: ["EbguardEnforcement", "EbguardSystem",
                                                      .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "EbguardEnforcement", dependencies: ["EbguardBPF", "EbguardSystem", "EbguardPolicy", "EbguardDNS",
                                                           .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "EbguardVersion"),
        .target(name: "EbguardDNS", dependencies: ["EbguardSystem", .product(name: "SystemPackage", package: "swift-system")]),
        .target(name: "EbguardAudit", dependencies: [
            "EbguardVersion", "EbguardPolicy",
            .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "EbguardDaemon", dependencies: [
            "EbguardSystem", "EbguardPolicy", "EbguardEnforcement", "EbguardAudit", "EbguardDNS", "Yams",
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "EbguardLearn", dependencies: ["EbguardPolicy", "EbguardAudit"]),
        .executableTarget(name: "ebguard", dependencies: [
            "EbguardSystem", "EbguardPolicy", "EbguardDoctor", "EbguardEnforcement", "EbguardAudit",
            "EbguardDaemon", "EbguardVersion", "EbguardDNS", "EbguardLearn",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "EbguardTestSupport", dependencies: ["EbguardSystem"], path: "Tests/EbguardTestSupport"),
        .testTarget(name: "EbguardBPFTests", dependencies: ["EbguardBPF"]),
        .testTarget(name: "EbguardSystemTests", dependencies: ["EbguardSystem"]),
        .testTarget(name: "EbguardPolicyTests", dependencies: ["EbguardPolicy"]),
        .testTarget(name: "EbguardDNSTests", dependencies: ["EbguardDNS", "EbguardTestSupport"]),
        .testTarget(name: "EbguardAuditTests", dependencies: ["EbguardAudit", "EbguardVersion", "EbguardTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EbguardLearnTests", dependencies: ["EbguardLearn", "EbguardPolicy", "EbguardAudit", "EbguardEnforcement"]),
        .testTarget(name: "EbguardDaemonTests", dependencies: ["EbguardDaemon", "EbguardAudit", "EbguardEnforcement", "EbguardBPF",
                                                              "EbguardPolicy"]),
        .testTarget(name: "EbguardEnforcementTests", dependencies: ["EbguardEnforcement", "EbguardPolicy", "EbguardBPF"]),
        .testTarget(name: "PrivilegedTests", dependencies: ["EbguardBPF", "EbguardSystem", "EbguardDoctor", "EbguardTestSupport",
                                                            "EbguardDaemon", "EbguardEnforcement", "EbguardPolicy", "EbguardAudit"]),
        .testTarget(name: "NetworkTests", dependencies: ["EbguardBPF", "EbguardSystem", "EbguardEnforcement", "EbguardTestSupport"]),
        .testTarget(name: "EnforcementVMTests", dependencies: ["EbguardBPF", "EbguardSystem", "EbguardEnforcement", "EbguardPolicy",
                                                               "EbguardTestSupport"]),
        .testTarget(name: "VMTests", dependencies: ["EbguardBPF", "EbguardSystem", "EbguardDoctor", "EbguardTestSupport",
                                                    "EbguardDaemon", "EbguardEnforcement", "EbguardLearn", "EbguardPolicy",
                                                    "EbguardAudit"]),
    ]
)
