internal import CEbguardABI
import EbguardBPF

/// A governed process started a program, forked or exited: observation from the scheduler
/// tracepoints (bpf/process.bpf.c), reported on every kernel, never a decision.
public struct ProcessEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case exec, fork, exit }

    public let kind: Kind
    public let sessionID: UInt64
    /// The process the event is about: the one that exec'd or exited, the new child of a fork.
    public let pid: UInt32
    /// Its parent (for a fork, the parent of the new child).
    public let ppid: UInt32
    public let uid: UInt32
    /// The reporting task's name: after an exec the new program's, at a fork the parent's.
    public let comm: String
    /// Boot-time nanoseconds (`CLOCK_BOOTTIME`) when the kernel wrote the event.
    public let time: UInt64
    /// exec: the name execve() was given, as the caller spelled it (may be relative).
    public let filename: String?
    /// exec: the new program's argument strings, as far as the kernel's copy reached.
    public let argv: [String]
    /// exec: argv holds only the first `EG_ARGV_MAX` bytes; `argc` says how many there were.
    public let argvTruncated: Bool
    /// exec: the whole argument count.
    public let argc: UInt32?
    /// exit: the status as `wait()` reports it (see `exitCode` and `signal`).
    public let exitStatus: Int32?

    /// exit: the code passed to `exit()`, when the process was not killed by a signal.
    public var exitCode: Int32? {
        guard let exitStatus, exitStatus & 0x7f == 0 else { return nil }
        return (exitStatus >> 8) & 0xff
    }

    /// exit: the signal that killed the process, if one did.
    public var signal: Int32? {
        guard let exitStatus, exitStatus & 0x7f != 0 else { return nil }
        return exitStatus & 0x7f
    }

    /// Decodes a ring-buffer record; nil for records of other types or sizes (decisions among them).
    public init?(record: UnsafeRawBufferPointer) {
        guard let header = EventRecord.header(of: record) else { return nil }
        switch UInt32(header.type) {
        case EG_EVENT_PROCESS_EXEC.rawValue:
            guard let event = EventRecord.decode(eg_process_exec_event.self, from: record) else { return nil }
            self.init(.exec, header: header, task: event.task, sessionID: event.session_id, pid: event.task.pid,
                      ppid: event.ppid,
                      filename: event.filename_len == 0 ? nil : string(fromCArray: event.filename),
                      argv: Self.strings(event.argv, length: Int(event.argv_len)),
                      argvTruncated: event.flags & UInt32(EG_PROCESS_ARGV_TRUNCATED) != 0, argc: event.argc)
        case EG_EVENT_PROCESS_FORK.rawValue:
            guard let event = EventRecord.decode(eg_process_fork_event.self, from: record) else { return nil }
            self.init(.fork, header: header, task: event.task, sessionID: event.session_id, pid: event.child_pid,
                      ppid: event.parent_pid)
        case EG_EVENT_PROCESS_EXIT.rawValue:
            guard let event = EventRecord.decode(eg_process_exit_event.self, from: record) else { return nil }
            self.init(.exit, header: header, task: event.task, sessionID: event.session_id, pid: event.task.pid,
                      ppid: event.ppid, exitStatus: event.exit_code)
        default:
            return nil
        }
    }

    private init(_ kind: Kind, header: eg_event_header, task: eg_task, sessionID: UInt64, pid: UInt32, ppid: UInt32,
                 filename: String? = nil, argv: [String] = [], argvTruncated: Bool = false, argc: UInt32? = nil,
                 exitStatus: Int32? = nil) {
        self.kind = kind
        self.sessionID = sessionID
        self.pid = pid
        self.ppid = ppid
        uid = task.uid
        comm = string(fromCArray: task.comm)
        time = header.time_ns
        self.filename = filename
        self.argv = argv
        self.argvTruncated = argvTruncated
        self.argc = argc
        self.exitStatus = exitStatus
    }

    /// NUL-separated strings in the first `length` bytes of a C array; a last string
    /// without its NUL (cut by truncation) is kept as far as it goes.
    static func strings<Tuple>(_ tuple: Tuple, length: Int) -> [String] {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.prefix(max(0, min(length, raw.count)))
            var parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
            if bytes.last == 0 { parts.removeLast() }
            return parts.map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
