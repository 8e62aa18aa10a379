import ArgumentParser
import EbguardPolicy
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `--home` and `--workspace`, shared by the policy subcommands.
struct PolicyContextOptions: ParsableArguments {
    @Option(help: "Home used for '~' and ${home} (default: the home of the user who started the session).")
    var home: String?

    @Option(help: "Directory used for ${workspace} (default: the current directory).")
    var workspace: String?

    func resolve() throws -> PolicyContext {
        let cwd = FileManager.default.currentDirectoryPath
        guard let home = home.map({ absolute($0, cwd) }) ?? SessionUser.home() else {
            throw ValidationError("cannot tell the session user's home; pass --home")
        }
        do {
            return try PolicyContext(home: home, workspace: workspace.map { absolute($0, cwd) } ?? cwd)
        } catch {
            throw ValidationError(error.message)
        }
    }

    private func absolute(_ path: String, _ cwd: String) -> String {
        path.hasPrefix("/") ? path : cwd + "/" + path
    }
}

/// A policy file's path as the daemon records it (the audit trail's `policy_path`): absolute and
/// with symlinks resolved, so that it names the file whatever directory `ebguard` ran in.
func resolvedPolicyPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else {
        return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Who started the session, as opposed to who the process runs as: `sudo ebguard run` runs as
/// root, but `~` in the policy means the invoking user's home.
enum SessionUser {
    /// SUDO_USER's home from the password database when running as root through sudo; else
    /// $HOME; else the real user's password entry.
    static func home(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        // SUDO_USER is only trusted as root: anyone else could set it to borrow another home.
        if geteuid() == 0, let user = environment["SUDO_USER"], !user.isEmpty, let entry = getpwnam(user) {
            return String(cString: entry.pointee.pw_dir)
        }
        if let home = environment["HOME"], home.hasPrefix("/") { return home }
        guard let entry = getpwuid(getuid()) else { return nil }
        return String(cString: entry.pointee.pw_dir)
    }
}

enum PolicyLoading {
    /// Loads and validates `path`; on errors prints each `file:line:col: message` to stderr and
    /// exits 1.
    static func load(_ path: String) throws -> Policy {
        do {
            return try Policy.load(path: path)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(1)
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
