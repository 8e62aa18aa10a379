import CEbguardABI
import EbguardBPF
import EbguardTestSupport
import Foundation
import Glibc
import Testing

/// Issue 16, class 10: a new build removes another build's pinned programs only when that
/// build provably has no live session. A sessions map this build cannot type (another ABI's
/// layout) but that holds an entry is "in use", never "idle".
@Suite(.enabled(if: TestEnvironment.inVM && TestEnvironment.isRoot, "needs BPF-LSM, which this host's kernel refuses; `make test` runs it in the VM (scripts/vmtest)"), .serialized)
struct UpgradeSafetyTests {
    @Test func aBuildWhoseSessionsMapCannotBeTypedIsKeptUnlessItIsEmpty() throws {
        let session = ContainedSession(user: nil)
        let base = "/sys/fs/bpf/ebguard"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let busy = base + "/test-busy-\(getpid())", idle = base + "/test-idle-\(getpid())"
        for directory in [busy, idle] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false) }
        defer {
            for directory in [busy, idle] {
                unlink(directory + "/eg_sessions")
                rmdir(directory)
            }
        }
        // A 3-byte value matches no eg_session this build knows; the busy one holds a session.
        try PinnedMapContents.pinOneEntryMap(at: busy + "/eg_sessions", valueSize: 3)
        #expect(try PinnedMapContents.isEmpty(at: busy + "/eg_sessions") == false)
        // The idle one: no sessions map at all (a build that never started a session).
        let result = try session.run("print('ran')")
        #expect(result.stdout.contains("ran"), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: busy + "/eg_sessions"), "a build with a live session was unpinned")
        #expect(!FileManager.default.fileExists(atPath: idle), "an idle build was kept")
    }
}
