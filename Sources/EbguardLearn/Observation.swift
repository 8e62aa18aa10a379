import EbguardPolicy

/// One decision read back from a trail, reduced to what learning and replay need.
///
/// The kernel reported it (an audit-format `decision` record); `count` is how many times it
/// happened (the record itself plus the `repeats` a summary record stands for).
public struct Observation: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        /// A program executed (its resolved path), with its command line when userspace held it.
        case exec(path: String, argv: [String]?)
        /// A file access: the resolved path and the kinds of access of that one operation.
        case file(path: String, access: FileAccess)
        /// A connect (or datagram) to an address; `host` is the name the session's resolver
        /// answered for that address, when a host rule decided it.
        case connect(address: IPAddress, port: UInt16, transport: TransportProtocol, host: String?)
        /// A name the session's resolver was asked for.
        case lookup(name: String)
        /// A connect to a filesystem Unix socket.
        case unix(path: String)
    }

    /// What happened in the end: the operation went through, or was refused.
    public enum Outcome: String, Sendable, Hashable, Codable {
        case allowed, refused
    }

    public var target: Target
    /// The verdict recorded (`allow`, `audit`, `ask`, `deny`, or what a shadow session records).
    public var recordedVerdict: String
    /// The rule the recorded policy decided with (`file[3]`, `default`, or the kernel's reason).
    public var recordedRule: String
    public var outcome: Outcome
    public var comm: String
    public var exe: String?
    public var count: UInt64
    /// `FILE:LINE` of the record, for messages.
    public var source: String

    public init(target: Target, recordedVerdict: String, recordedRule: String, outcome: Outcome, comm: String,
                exe: String? = nil, count: UInt64 = 1, source: String = "") {
        self.target = target
        self.recordedVerdict = recordedVerdict
        self.recordedRule = recordedRule
        self.outcome = outcome
        self.comm = comm
        self.exe = exe
        self.count = count
        self.source = source
    }

    /// The program that did it, for comments: the executable's base name, else the task name.
    public var program: String {
        guard let exe, !exe.isEmpty else { return comm }
        guard let slash = exe.utf8.lastIndex(of: UInt8(ascii: "/")) else { return exe }
        return String(exe[exe.utf8.index(after: slash)...])
    }

    /// `file /a/b (read,write)`, `exec /usr/bin/cc`, `connect 10.0.0.1:443/tcp (example.org)`.
    public var objectText: String {
        switch target {
        case .exec(let path, let argv):
            return "exec " + path + (argv.map { " [" + $0.joined(separator: " ") + "]" } ?? "")
        case .file(let path, let access):
            return "file " + path + " (" + access.names.joined(separator: ",") + ")"
        case .connect(let address, let port, let transport, let host):
            let addr = address.isIPv4 ? address.description : "[\(address)]"
            return "connect \(addr):\(port)/\(transport.rawValue)" + (host.map { " (\($0))" } ?? "")
        case .lookup(let name):
            return "lookup " + name
        case .unix(let path):
            return "unix " + path
        }
    }
}
