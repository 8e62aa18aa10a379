import Foundation
import Glibc

/// A real `bin/ebguard daemon` in its own state directory, so tests never meet a daemon
/// someone else started; every `ebguard` the harness runs is pointed at its socket.
public final class DaemonHarness {
    public let binary: String
    public let stateDirectory: String
    public var socket: String { stateDirectory + "/ebguard.sock" }
    public private(set) var process: Process?
    public let logPath: String
    /// Where tests put their files (visible to the daemon and the governed commands).
    public let scratch: String
    /// More `ebguard daemon` options.
    public var extraArguments: [String] = []

    public init(label: String) throws {
        binary = TestEnvironment.projectRoot + "/bin/ebguard"
        let unique = "\(label)-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        stateDirectory = "/run/ebguard-test-" + unique
        scratch = NSTemporaryDirectory() + "ebguard-daemon-" + unique
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        chmod(scratch, 0o755)
        logPath = scratch + "/daemon.log"
    }

    public var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["EBGUARD_SOCKET"] = socket
        return environment
    }

    /// The daemon's `--config` file, in `scratch`.
    public var configPath: String { scratch + "/ebguard.yaml" }
    /// The audit log of the default config: in `scratch`, so tests never write /var/log.
    public var auditLogPath: String { scratch + "/audit/audit.jsonl" }

    /// Starts the daemon and waits until its socket answers. `config` (YAML) replaces the
    /// config file; without it, the previous one is kept, or one that puts the audit log and
    /// the forwarders' state in `scratch` is written.
    public func start(config: String? = nil) throws {
        if let config {
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        } else if !FileManager.default.fileExists(atPath: configPath) {
            try "audit:\n  path: \(auditLogPath)\n  forward_state_dir: \(scratch)/forward\n"
                .write(toFile: configPath, atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["daemon", "--state-dir", stateDirectory, "--config", configPath] + extraArguments
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        output.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.process = process
        // A fresh VM's first daemon loads and verifies every program under TCG: measured 29-37 s on
        // a loaded 2-core host (the same for a standalone run's first session), so 30 s was a flake.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if process.isRunning == false { break }
            if (try? ebguard(["status", "--json"]))?.status == 0 { return }
            usleep(50_000)
        }
        throw HarnessError("the daemon did not come up; its log:\n" + log())
    }

    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM and wait: the clean stop.
    public func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL: what a crash or an OOM kill looks like.
    public func killHard() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs `ebguard ARGS` against this daemon to completion.
    public func ebguard(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ProcessResult {
        try run([binary] + arguments, environment: environment.merging(extra) { $1 })
    }

    /// Starts `ebguard ARGS` in the background, its output going to files in `scratch`.
    public func spawn(_ arguments: [String], name: String) throws -> BackgroundProcess {
        try BackgroundProcess([binary] + arguments, environment: environment, directory: scratch, name: name)
    }

    /// Starts `ebguard events --follow -o json` and waits until the daemon counts it as a
    /// subscriber, so that it sees every event of what the test does next; nil if it never does.
    public func followEvents(name: String = "events") throws -> BackgroundProcess? {
        let events = try spawn(["events", "--follow", "-o", "json"], name: name)
        for _ in 0..<200 {
            let status = try? ebguard(["status", "--json"])
            let report = status.flatMap { try? JSONSerialization.jsonObject(with: Data($0.stdout.utf8)) as? [String: Any] }
            if let subscribers = report?["subscribers"] as? Int, subscribers >= 1 { return events }
            usleep(50_000)
        }
        return nil
    }

    public func write(_ name: String, _ text: String) throws -> String {
        let path = scratch + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: scratch)
        // Leftover session records would be adopted by nobody: remove the state with the daemon.
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }
}

/// A process whose stdout and stderr go to files, for tests that watch it while it runs.
public final class BackgroundProcess {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    public init(_ arguments: [String], environment: [String: String], directory: String, name: String) throws {
        stdoutPath = directory + "/\(name).out"
        stderrPath = directory + "/\(name).err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits up to `timeout` seconds for `condition` on the output. Generous: only a failing
    /// test waits it out, and the VM's emulated CPUs are slow on a busy host.
    @discardableResult
    public func waitFor(timeout: Double = 60, _ condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(stdout) { return true }
            usleep(50_000)
        }
        return condition(stdout)
    }

    /// Waits for exit; returns the status, or nil (after SIGKILL) on timeout.
    public func wait(timeout: Double = 60) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a command with an environment to completion.
public func run(_ arguments: [String], environment: [String: String]) throws -> ProcessResult {
    try runProcess(arguments, environment: environment)
}

/// JSON lines as dictionaries (lines that don't parse are skipped).
public func jsonLines(_ text: String) -> [[String: Any]] {
    text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

/// Runs a command with stdio on /dev/null and waits for it: a daemonizing program (the tmux
/// server) keeps no pipe that anyone waits on.
public func spawnDetachedAndWait(_ arguments: [String], environment: [String: String]) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, arguments[0], &actions, nil, argv, envp) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}
