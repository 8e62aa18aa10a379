import Foundation
import Glibc

/// A directory of the cgroup v2 hierarchy. Its id (what `bpf_get_current_cgroup_id()`
/// returns) is the directory's inode number.
public struct Cgroup: Equatable, Sendable {
    /// Absolute path, under the cgroup2 mount point.
    public let path: String

    public init(path: String) { self.path = path }

    /// The cgroup2 mount point, read from mountinfo.
    public static func mountPoint() throws -> String {
        guard let point = try MountTable.current().mountPoint(ofType: "cgroup2") else {
            throw SystemError("finding the cgroup2 mount", reason: "no cgroup2 file system is mounted (mount -t cgroup2 none /sys/fs/cgroup)")
        }
        return point
    }

    /// The cgroup a process belongs to (its "0::" line in /proc/PID/cgroup).
    public static func of(pid: pid_t) throws -> Cgroup {
        let file = "/proc/\(pid)/cgroup"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw SystemError.current("reading \(file)") }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else {
            throw SystemError("reading \(file)", reason: "the process is in no cgroup v2")
        }
        let relative = line.dropFirst(3)
        return Cgroup(path: try mountPoint() + (relative == "/" ? "" : String(relative)))
    }

    /// Creates `name` under this cgroup (mkdir); fails if it exists.
    public func createChild(_ name: String) throws -> Cgroup {
        precondition(!name.contains("/") && !name.isEmpty && name != "." && name != "..", "bad cgroup name \(name)")
        let child = Cgroup(path: path + "/" + name)
        guard mkdir(child.path, 0o755) == 0 else { throw SystemError.current("creating cgroup \(child.path)") }
        return child
    }

    /// Creates the directory if missing (for ebguard's own parent cgroup).
    public static func ensure(path: String) throws -> Cgroup {
        if mkdir(path, 0o755) != 0 && Glibc.errno != EEXIST { throw SystemError.current("creating cgroup \(path)") }
        return Cgroup(path: path)
    }

    /// The cgroup id: the inode number of its directory.
    public func id() throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError.current("reading the id of cgroup \(path)") }
        return UInt64(info.st_ino)
    }

    /// Depth below the hierarchy's root (the root is level 0), as `bpf_get_current_ancestor_cgroup_id()` counts.
    public func level() throws -> Int {
        let root = try Cgroup.mountPoint()
        guard path.hasPrefix(root) else { throw SystemError("measuring the level of cgroup \(path)", reason: "not under \(root)") }
        return path.dropFirst(root.count).split(separator: "/").count
    }

    /// Opens the directory, as cgroup attach calls and CLONE_INTO_CGROUP want.
    public func open() throws -> OwnedFileDescriptor {
        try OwnedFileDescriptor(opening: path, flags: O_RDONLY | O_DIRECTORY)
    }

    /// Moves a process (all its threads) into this cgroup.
    public func add(pid: pid_t) throws {
        try write("cgroup.procs", "\(pid)")
    }

    /// Processes in this cgroup itself (not its descendants).
    public func processes() throws -> [pid_t] {
        guard let text = try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8) else {
            throw SystemError.current("reading \(path)/cgroup.procs")
        }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Child cgroups (directories).
    public func children() -> [Cgroup] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().compactMap { name in
            var isDirectory: ObjCBool = false
            let child = path + "/" + name
            return FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory) && isDirectory.boolValue
                ? Cgroup(path: child) : nil
        }
    }

    /// SIGKILLs every process in this cgroup and its descendants (cgroup.kill where the kernel has it).
    public func killAll() throws {
        if access(path + "/cgroup.kill", W_OK) == 0 {
            try write("cgroup.kill", "1")
            return
        }
        for child in children() { try child.killAll() }
        for pid in try processes() { kill(pid, SIGKILL) }
    }

    /// Kills what is left, waits for the cgroup to empty, and removes it with its descendants.
    public func destroy(timeout: Duration = .seconds(5)) throws {
        try? killAll()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        for child in children() { try child.destroy(timeout: timeout) }
        while rmdir(path) != 0 {
            let error = Glibc.errno
            if error == ENOENT { return }
            guard error == EBUSY, clock.now < deadline else { throw SystemError.current("removing cgroup \(path)") }
            try? killAll()
            usleep(10_000)
        }
    }

    private func write(_ file: String, _ text: String) throws {
        let target = path + "/" + file
        let fd = Glibc.open(target, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.current("opening \(target)") }
        defer { close(fd) }
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written >= 0 else { throw SystemError.current("writing \(text) to \(target)") }
    }
}
