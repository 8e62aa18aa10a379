import Glibc
import CBPFShims

/// libbpf's messages, captured per thread so a failed load can say why.
enum LibBPFLog {
    /// Installs the capture once; `EBGUARD_LIBBPF_DEBUG=1` also echoes everything to stderr.
    static let installed: Void = {
        let verbose = getenv("EBGUARD_LIBBPF_DEBUG").map { String(cString: $0) == "1" } ?? false
        eg_libbpf_log_install(verbose ? 1 : 0)
    }()

    /// What libbpf said on this thread since the last call.
    static func take() -> String {
        var buffer = [CChar](repeating: 0, count: 8192)
        let count = eg_libbpf_log_take(&buffer, buffer.count)
        return count == 0 ? "" : String(cString: buffer)
    }

    /// Drops anything left over before an operation starts.
    static func reset() {
        _ = installed
        _ = take()
    }
}
