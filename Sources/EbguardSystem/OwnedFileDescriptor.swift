import Glibc

/// A file descriptor this process owns; closed exactly once, in `deinit`.
public final class OwnedFileDescriptor {
    public let rawValue: Int32

    public init(adopting rawValue: Int32) {
        precondition(rawValue >= 0, "adopting an invalid file descriptor")
        self.rawValue = rawValue
    }

    /// `open(2)` with `O_CLOEXEC` always added, so descriptors never leak into children.
    public convenience init(opening path: String, flags: Int32, mode: mode_t = 0o644) throws {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError.current("opening \(path)") }
        self.init(adopting: fd)
    }

    deinit { close(rawValue) }
}
