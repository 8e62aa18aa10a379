import Foundation

/// Decides whether a peer may use the control API. The agent must never reconfigure its own
/// policy or answer its own requests, so any process inside a governed session is refused,
/// whatever its uid: its cgroup says where it is, and the session cgroups live below
/// ebguard's own (`/<parent>/<session>/...`).
public struct PeerCheck: Sendable {
    public let parentName: String
    public let procRoot: String

    public init(parentName: String = "ebguard", procRoot: String = "/proc") {
        self.parentName = parentName
        self.procRoot = procRoot
    }

    public enum Verdict: Sendable, Equatable {
        case allowed
        case refused(String)
    }

    public func check(_ peer: PeerCredentials, allowedGroup: gid_t?) -> Verdict {
        guard peer.uid == 0 || (allowedGroup != nil && Self.isMember(uid: peer.uid, gid: peer.gid, of: allowedGroup!)) else {
            return .refused("uid \(peer.uid) may not use ebguard's control socket (root or group ebguard only)")
        }
        guard let text = try? String(contentsOfFile: "\(procRoot)/\(peer.pid)/cgroup", encoding: .utf8) else {
            // Gone already, or hidden: nothing vouches for it.
            return .refused("cannot tell which cgroup pid \(peer.pid) is in; refusing")
        }
        if let session = governedSession(cgroupFile: text) {
            return .refused("refused: pid \(peer.pid) runs inside the governed session \(session); "
                            + "a governed process cannot reconfigure ebguard or answer its requests")
        }
        return .allowed
    }

    /// The session cgroup a `/proc/PID/cgroup` text puts the process in, if any.
    public func governedSession(cgroupFile text: String) -> String? {
        for line in text.split(separator: "\n") {
            // cgroup v2 line: "0::/path". v1 lines name controllers; only the unified one counts.
            guard line.hasPrefix("0::") else { continue }
            let components = line.dropFirst(3).split(separator: "/")
            if components.count >= 2, components[0] == parentName { return String(components[1]) }
            // Mount namespaces may show a deleted cgroup as "(deleted)": still inside.
        }
        return nil
    }

    static func isMember(uid: uid_t, gid: gid_t, of group: gid_t) -> Bool {
        if gid == group { return true }
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return false }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, entry.pointee.pw_gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, entry.pointee.pw_gid, &groups, &count) >= 0 else { return false }
        }
        return groups.prefix(Int(count)).contains(group)
    }
}
