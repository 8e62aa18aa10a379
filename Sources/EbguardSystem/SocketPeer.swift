import CEbguardProcess
import Glibc
import SystemPackage

/// Who is at the other end of a connected Unix socket.
public enum SocketPeer {
    /// The peer's pid, uid and gid as the kernel recorded them at connect (`SO_PEERCRED`,
    /// through `eg_peer_credentials`: `struct ucred` needs `_GNU_SOURCE`).
    public static func credentials(of fd: Int32) throws -> (pid: pid_t, uid: uid_t, gid: gid_t) {
        var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
        let result = eg_peer_credentials(fd, &pid, &uid, &gid)
        guard result == 0 else {
            throw SystemError("reading the peer's credentials", errno: Errno(rawValue: -result))
        }
        return (pid, uid, gid)
    }
}
