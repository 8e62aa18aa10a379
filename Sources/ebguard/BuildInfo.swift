import EbguardVersion

/// What `ebguard --version` prints: the version and the git commit this binary was built from.
///
/// The commit is baked in at build time without a compiler flag (a flag would rebuild every module
/// on each commit): `make` writes `BuildCommit.generated.swift` next to this file (gitignored,
/// rewritten only when the commit changes, see scripts/build-commit) with
/// `extension BuildInfo { static var commit: String { "…" } }`. A member of the type itself wins
/// over the protocol extension's, so a plain `swift build`, or a tree without .git, compiles
/// without that file and says "unknown".
protocol BuildCommitFallback {}

extension BuildCommitFallback {
    static var commit: String { "unknown" }
}

enum BuildInfo: BuildCommitFallback {
    /// `0.2.0 (commit 2ae5016c1a2b)`; `-dirty` after the hash when the tree had uncommitted changes.
    static var versionText: String { "\(EbguardVersion.string) (commit \(commit))" }
}
