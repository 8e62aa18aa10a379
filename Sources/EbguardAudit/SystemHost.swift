#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few system calls the audit files need, with errors that name the call, the file and
/// the errno. EINTR is retried; short writes are continued.
enum SystemHost {
    static func hostname() -> String {
        var buf = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func readSmallFile(_ path: String) throws(AuditIOError) -> [UInt8] {
        let fd = try AuditFD(path: path, flags: O_RDONLY)
        return try fd.readAll(from: 0)
    }

    /// Size of a file, or nil if it does not exist.
    static func fileSize(_ path: String) throws(AuditIOError) -> Int64? {
        var st = stat()
        if stat(path, &st) == 0 { return Int64(st.st_size) }
        if errno == ENOENT { return nil }
        throw AuditIOError("stat of", path, errno: errno)
    }

    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    static func rename(_ from: String, _ to: String) throws(AuditIOError) {
        guard Glibc.rename(from, to) == 0 else { throw AuditIOError("renaming \(from) to", to, errno: errno) }
    }

    static func unlink(_ path: String) throws(AuditIOError) {
        guard Glibc.unlink(path) == 0 || errno == ENOENT else { throw AuditIOError("removing", path, errno: errno) }
    }

    /// Creates `path` and its missing parents with mode 0750.
    static func makeDirectories(_ path: String) throws(AuditIOError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o750) != 0, errno != EEXIST { throw AuditIOError("creating directory", current, errno: errno) }
        }
    }

    /// fsync of a directory, so that a rename or a new file in it survives a power loss.
    static func syncDirectory(_ path: String) throws(AuditIOError) {
        let fd = try AuditFD(path: path, flags: O_RDONLY | O_DIRECTORY)
        try fd.sync()
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(AuditIOError) {
        let tmp = path + ".tmp"
        let fd = try AuditFD(path: tmp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o640)
        try fd.writeAll(bytes)
        try fd.sync()
        try rename(tmp, path)
        try syncDirectory(directory(of: path))
    }
}

/// An owned file descriptor; `deinit` closes it.
final class AuditFD {
    let fd: Int32
    let path: String

    init(path: String, flags: Int32, mode: mode_t = 0o640) throws(AuditIOError) {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AuditIOError("opening", path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    func writeAll(_ bytes: [UInt8]) throws(AuditIOError) {
        let failure = bytes.withUnsafeBytes { bytes -> AuditIOError? in
            do throws(AuditIOError) { try writeAll(bytes) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(AuditIOError) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditIOError("writing", path, errno: errno)
            }
            done += n
        }
    }

    func sync() throws(AuditIOError) {
        guard fsync(fd) == 0 else { throw AuditIOError("fsync of", path, errno: errno) }
    }

    func size() throws(AuditIOError) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw AuditIOError("stat of", path, errno: errno) }
        return Int64(st.st_size)
    }

    var inode: UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    func truncate(to size: Int64) throws(AuditIOError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw AuditIOError("truncating", path, errno: errno) }
    }

    /// Everything from `offset` to the end of the file.
    func readAll(from offset: Int64) throws(AuditIOError) -> [UInt8] {
        var out: [UInt8] = []
        var position = offset
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(position)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditIOError("reading", path, errno: errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            position += Int64(n)
        }
    }
}
