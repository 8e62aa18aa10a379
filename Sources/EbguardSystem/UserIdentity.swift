import Glibc

/// Who a governed command runs as.
public struct UserIdentity: Equatable, Sendable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t
    public let groups: [gid_t]
    public let home: String

    /// The account called `name`, with its supplementary groups.
    public static func named(_ name: String) throws -> UserIdentity {
        guard let entry = getpwnam(name) else {
            throw SystemError("looking up user \(name)", reason: "no such user")
        }
        let passwd = entry.pointee
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(passwd.pw_name, passwd.pw_gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(passwd.pw_name, passwd.pw_gid, &groups, &count)
        }
        return UserIdentity(name: name, uid: passwd.pw_uid, gid: passwd.pw_gid,
                            groups: Array(groups.prefix(Int(count))), home: String(cString: passwd.pw_dir))
    }

    /// The user who started ebguard: `SUDO_USER` when run through sudo, else the current user.
    public static func invoking(environment: [String: String]) throws -> (identity: UserIdentity, viaSudo: Bool) {
        if let sudoUser = environment["SUDO_USER"], !sudoUser.isEmpty, sudoUser != "root" {
            return (try named(sudoUser), true)
        }
        guard let entry = getpwuid(geteuid()) else {
            throw SystemError("looking up uid \(geteuid())", reason: "no passwd entry")
        }
        return (try named(String(cString: entry.pointee.pw_name)), false)
    }
}
