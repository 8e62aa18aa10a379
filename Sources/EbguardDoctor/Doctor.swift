import EbguardEnforcement
import EbguardSystem
import Foundation
import Glibc

/// One line of the doctor's table.
public struct DoctorCheck: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case ok, degraded, fail }
    public let name: String
    public let status: Status
    public let detail: String
    /// What to do about it; nil when the check passed.
    public let remedy: String?
}

/// Everything `ebguard doctor` found, with the overall verdict.
public struct DoctorReport: Codable, Equatable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        case full, degraded, unusable
        /// 0 full enforcement possible, 1 degraded, 2 unusable.
        public var exitStatus: Int32 {
            switch self {
            case .full: 0
            case .degraded: 1
            case .unusable: 2
            }
        }
    }
    public let kernel: String
    public let checks: [DoctorCheck]

    public var verdict: Verdict {
        if checks.contains(where: { $0.status == .fail }) { return .unusable }
        if checks.contains(where: { $0.status == .degraded }) { return .degraded }
        return .full
    }

    /// One sentence on what works, for the table's last line and `ebguard run`'s warning.
    public var summary: String {
        switch verdict {
        case .full: "full enforcement: exec, file and network rules are enforced in the kernel"
        case .degraded: "degraded: network rules are enforced; exec and file activity is only observed ("
            + checks.filter { $0.status == .degraded }.map(\.name).joined(separator: ", ") + ")"
        case .unusable: "unusable: " + checks.filter { $0.status == .fail }.map(\.name).joined(separator: ", ")
        }
    }
}

/// Runs every check by trying it.
public enum Doctor {
    public static func run() -> DoctorReport {
        var checks: [DoctorCheck] = []
        func add(_ name: String, _ status: DoctorCheck.Status, _ detail: String, _ remedy: String? = nil) {
            checks.append(DoctorCheck(name: name, status: status, detail: detail, remedy: status == .ok ? nil : remedy))
        }

        let root = KernelFacts.isRoot
        add("root", root ? .ok : .fail, root ? "running as root" : "running as uid \(geteuid())",
            "run ebguard as root (sudo): loading BPF programs needs CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN")

        let release = KernelFacts.release
        add("kernel BTF", KernelFacts.hasBTF ? .ok : .fail,
            KernelFacts.hasBTF ? "Linux \(release), /sys/kernel/btf/vmlinux present" : "Linux \(release) exposes no BTF",
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora kernels are)")

        do {
            let mounted = try Mounts.ensure("bpf", at: "/sys/fs/bpf")
            add("bpffs", .ok, mounted ? "mounted it at /sys/fs/bpf" : "mounted at /sys/fs/bpf")
        } catch {
            add("bpffs", .fail, "\(error)", "mount -t bpf bpf /sys/fs/bpf")
        }

        var cgroupRoot: Cgroup?
        do {
            let point = try Cgroup.mountPoint()
            cgroupRoot = Cgroup(path: point)
            add("cgroup v2", .ok, "mounted at \(point)")
        } catch {
            add("cgroup v2", .fail, "\(error)", "mount -t cgroup2 none /sys/fs/cgroup (or boot with systemd.unified_cgroup_hierarchy=1)")
        }

        let lsms = KernelFacts.activeLSMs()
        let lsmList = lsms?.joined(separator: ",") ?? "unreadable"
        if let lsms, lsms.contains("bpf") {
            add("bpf in active LSMs", .ok, lsmList)
        } else {
            let wanted = (lsms ?? ["landlock", "lockdown", "yama", "apparmor"]).filter { $0 != "bpf" } + ["bpf"]
            add("bpf in active LSMs", .degraded, "active LSMs: \(lsmList)",
                "add `lsm=\(wanted.joined(separator: ","))` to the kernel command line and reboot (needs CONFIG_BPF_LSM=y)")
        }

        let lockdown = KernelFacts.lockdown()
        switch lockdown {
        case "confidentiality":
            add("lockdown", .degraded, "confidentiality: BPF may not read kernel memory",
                "boot with lockdown=integrity or none; confidentiality mode blocks the helpers path resolution needs")
        case let level?: add("lockdown", .ok, level)
        case nil: add("lockdown", .ok, "no lockdown LSM")
        }

        do {
            try Probes.lsm()
            add("BPF-LSM program", .ok, "loaded and attached lsm/file_open")
        } catch where error.errno == .notPermitted {
            add("BPF-LSM program", .degraded, "loading lsm/file_open: Operation not permitted (EPERM)",
                lsms?.contains("bpf") == true
                    ? "this kernel refuses BPF trampolines (lsm, fentry): exec/file enforcement unavailable, network enforcement and observation work; use a kernel that allows BPF-LSM (e.g. Debian's linux-image-amd64)"
                    : "enable the BPF LSM (see above); until then exec/file enforcement is unavailable, network enforcement and observation work")
        } catch {
            add("BPF-LSM program", .degraded, "\(error)",
                "exec/file enforcement unavailable; network enforcement and observation work. Check CONFIG_BPF_LSM and the lsm= boot parameter")
        }

        do {
            try Probes.tracepointAndRingBuffer()
            add("tracepoint + ring buffer", .ok, "tp/syscalls event received in userspace")
        } catch {
            add("tracepoint + ring buffer", .fail, "\(error)",
                "needs CONFIG_FTRACE_SYSCALLS and BPF ring buffers (Linux 5.8+)")
        }

        if let cgroupRoot {
            do {
                try Probes.cgroupConnect(parent: cgroupRoot)
                add("cgroup/connect4 program", .ok, "attached to a scratch cgroup under \(cgroupRoot.path)")
            } catch {
                add("cgroup/connect4 program", .fail, "\(error)", "needs CONFIG_CGROUP_BPF and a writable cgroup2 hierarchy")
            }
        } else {
            add("cgroup/connect4 program", .fail, "no cgroup v2 hierarchy to attach to", "mount cgroup2 (see above)")
        }
        return DoctorReport(kernel: release, checks: checks)
    }
}
