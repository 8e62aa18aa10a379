import Foundation
import Glibc

/// What the daemon knows about the processes of governed sessions: parent, executable and
/// command line, learned from process events and, for a pid seen first in a decision,
/// once from /proc. Bounded: a fork bomb cannot make it grow without end.
final class ProcessFacts {
    struct Facts {
        var ppid: UInt32?
        var exe: String?
        var argv: [String]?
    }

    private var byPID: [UInt32: Facts] = [:]
    private var users: [UInt32: String] = [:]
    private let capacity: Int
    private let procRoot: String

    init(capacity: Int = 32768, procRoot: String = "/proc") {
        self.capacity = capacity
        self.procRoot = procRoot
    }

    var count: Int { byPID.count }

    func facts(of pid: UInt32) -> Facts {
        if let known = byPID[pid] { return known }
        let facts = Facts(ppid: readParent(pid), exe: readExecutable(pid), argv: nil)
        remember(pid, facts)
        return facts
    }

    func exec(pid: UInt32, ppid: UInt32?, exe: String, argv: [String]) {
        remember(pid, Facts(ppid: ppid ?? byPID[pid]?.ppid, exe: exe, argv: argv))
    }

    func fork(parent: UInt32, child: UInt32) {
        let parentFacts = byPID[parent]
        remember(child, Facts(ppid: parent, exe: parentFacts?.exe, argv: parentFacts?.argv))
    }

    func exit(pid: UInt32) { byPID[pid] = nil }

    private func remember(_ pid: UInt32, _ facts: Facts) {
        if byPID.count >= capacity && byPID[pid] == nil { byPID.removeAll(keepingCapacity: true) }
        byPID[pid] = facts
    }

    func userName(_ uid: UInt32) -> String? {
        if let name = users[uid] { return name }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
            return nil
        }
        let text = String(cString: name)
        if users.count < 4096 { users[uid] = text }
        return text
    }

    private func readParent(_ pid: UInt32) -> UInt32? {
        guard let stat = try? String(contentsOfFile: "\(procRoot)/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // "pid (comm) S ppid ...": comm may contain spaces and parentheses, so parse after the last ')'.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? UInt32(fields[1]) : nil
    }

    private func readExecutable(_ pid: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("\(procRoot)/\(pid)/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        buffer[count] = 0
        return String(cString: buffer)
    }
}
