import CEbguardProcess
import Glibc

/// How a finished child ended, as a shell reports it.
public enum ExitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    public init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    /// The code a shell would give: the exit code, or 128 + the signal number.
    public var shellCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// A program to start inside a cgroup.
public struct SpawnRequest: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    public var user: UserIdentity?
    public var noNewPrivileges: Bool
    /// Capabilities (bit N: capability N) left in the bounding, inheritable and ambient sets;
    /// every other one is dropped before exec, so not even a root program gets it back. nil:
    /// the sets are left as they are.
    public var keptCapabilities: UInt64? = nil

    public init(executable: String, arguments: [String], environment: [String: String],
                workingDirectory: String? = nil, user: UserIdentity? = nil, noNewPrivileges: Bool = true) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.noNewPrivileges = noNewPrivileges
    }

    /// Finds `command` as a shell would, in the child's PATH; names with a slash are taken as they are.
    public static func resolve(_ command: String, path: String?) throws -> String {
        if command.contains("/") { return command }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = directory + "/" + command
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SystemError("starting \(command)", errno: .noSuchFileOrDirectory, reason: "command not found in PATH")
    }
}

extension Cgroup {
    /// Starts `request` inside this cgroup from its very first instruction (clone3 with
    /// CLONE_INTO_CGROUP); returns its pid. Exec failures come back as errors, not as a child.
    public func spawn(_ request: SpawnRequest) throws -> pid_t {
        let directory = try open()
        let arguments = request.arguments
        let environment = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try withCStrings(arguments) { argvPointers in
            try withCStrings(environment) { envPointers in
                let groups = request.user?.groups ?? []
                return try groups.withUnsafeBufferPointer { groupPointer in
                    var spawn = eg_spawn_request()
                    let result: pid_t = request.executable.withCString { path in
                        (request.workingDirectory ?? "").withCString { cwd in
                            spawn.path = path
                            spawn.argv = argvPointers
                            spawn.envp = envPointers
                            spawn.cwd = request.workingDirectory == nil ? nil : cwd
                            spawn.cgroup_fd = directory.rawValue
                            if let user = request.user {
                                spawn.set_ids = 1
                                spawn.uid = user.uid
                                spawn.gid = user.gid
                                spawn.groups = groupPointer.baseAddress
                                spawn.group_count = groupPointer.count
                            }
                            spawn.no_new_privs = request.noNewPrivileges ? 1 : 0
                            spawn.limit_caps = request.keptCapabilities == nil ? 0 : 1
                            spawn.keep_caps = request.keptCapabilities ?? 0
                            return eg_spawn(&spawn)
                        }
                    }
                    guard result > 0 else {
                        throw SystemError("starting \(request.executable) in cgroup \(path)", errno: .init(rawValue: -result))
                    }
                    return result
                }
            }
        }
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> R) rethrows -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
}

/// Signals delivered to this process, read from a self-pipe filled by a C handler,
/// so the session loop can forward them to the governed program.
public final class SignalPipe {
    public struct Note: Sendable {
        public let signal: Int32
        /// Sent by a process with kill(2) (not by the terminal to the whole foreground group).
        public let fromProcess: Bool
    }

    public let readFD: Int32
    private let writeFD: Int32

    public init(signals: [Int32]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SystemError.current("creating the signal pipe") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        readFD = fds[0]
        writeFD = fds[1]
        let result = signals.withUnsafeBufferPointer { eg_signals_forward_to_pipe($0.baseAddress, $0.count, writeFD) }
        guard result == 0 else { throw SystemError("installing signal handlers", errno: .init(rawValue: -result)) }
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Every note waiting in the pipe.
    public func drain() -> [Note] {
        var notes: [Note] = []
        var note = eg_signal_note()
        while read(readFD, &note, MemoryLayout<eg_signal_note>.size) == MemoryLayout<eg_signal_note>.size {
            notes.append(Note(signal: note.signo, fromProcess: note.code == SI_USER || note.code == SI_QUEUE))
        }
        return notes
    }
}
