import EbguardAudit
import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import Foundation

/// A session the daemon owns: the enforcement side (`Session`), the record it persists, and
/// the counters it reports.
final class ManagedSession {
    let session: Session
    var record: SessionRecord {
        didSet { if record.policy != oldValue.policy { policySHA256 = record.policy.sha256 } }
    }
    /// Of `record.policy`, kept: every audit record of the session names it.
    private(set) var policySHA256: String
    var policy: CompiledPolicy
    /// "file[2]" -> "agent.yaml:14:5".
    var ruleLocations: [String: String]
    /// Descriptor of the `ebguard run` connection that owns it; nil after a daemon restart
    /// until that run re-attaches.
    var owner: Int32?
    /// The owner ran with `--quiet`. Not in the record: a run that re-attaches after a daemon
    /// restart is sent what a non-quiet one is, and discards it.
    var ownerIsQuiet = false
    /// Exec answers with scope session or always: program identity + arguments -> allow.
    var execAnswers: [ExecAnswerKey: Bool] = [:]
    var events: UInt64 = 0
    var denied: UInt64 = 0
    /// What `ebguard run` applies to the command itself (the reply to its registration says
    /// it, so the client need not parse the policy again); nil for an adopted session, whose
    /// command runs already.
    var commandPrivileges: CommandPrivileges?

    struct CommandPrivileges {
        var noNewPrivs: Bool
        var capabilities: [String]
    }

    /// The session's DNS resolver (nil only if it could not be restarted after an adoption).
    let resolver: SessionResolver?
    /// Shadow mode: execs left unheld, waiting for their argv (`UnheldExecs`).
    let unheld = UnheldExecs()

    init(session: Session, record: SessionRecord, policy: CompiledPolicy, resolver: SessionResolver?) {
        self.session = session
        self.resolver = resolver
        self.record = record
        policySHA256 = record.policy.sha256
        self.policy = policy
        ruleLocations = Self.locations(of: policy)
    }

    func replace(policy: CompiledPolicy) {
        self.policy = policy
        resolver?.gate.replace(policy: policy.hostRulesOnly)
        ruleLocations = Self.locations(of: policy)
    }

    static func locations(of policy: CompiledPolicy) -> [String: String] {
        var locations: [String: String] = [:]
        for rule in policy.exec { locations[rule.id.description] = rule.location.description }
        for rule in policy.file { locations[rule.id.description] = rule.location.description }
        for rule in policy.network { locations[rule.id.description] = rule.location.description }
        return locations
    }

    /// The session's policy as audit records name it.
    var auditFacts: AuditSessionFacts {
        AuditSessionFacts(policy: policy.name, policySHA256: policySHA256, policyPath: record.policy.source,
                          user: record.user, command: record.command)
    }

    /// Whether `selector` (name, key, or numeric id) names this session.
    func matches(_ selector: String) -> Bool {
        selector == record.key || selector == record.name || selector == String(record.id)
    }

    func info(clock: EventClock) -> SessionInfo {
        let processes = Self.countProcesses(in: session.cgroup)
        return SessionInfo(id: record.id, name: record.name, key: record.key, cgroup: record.cgroup, policy: policy.name,
                           policySource: record.policy.source, policySHA256: policySHA256, user: record.user,
                           uid: record.uid, started: clock.rfc3339(bootNanoseconds: record.started), processes: processes,
                           events: events, denied: denied, attached: owner != nil, notes: session.installed.unenforced.map {
                               "unix socket subtree rule not enforced (exact socket paths only): \($0)"
                           }, mode: record.learn == true ? "learn" : policy.mode.rawValue,
                           noNewPrivs: commandPrivileges?.noNewPrivs, capabilities: commandPrivileges?.capabilities)
    }

    /// Processes in the session cgroup and all below it.
    static func countProcesses(in cgroup: Cgroup) -> Int {
        ((try? cgroup.processes().count) ?? 0) + cgroup.children().reduce(0) { $0 + countProcesses(in: $1) }
    }
}
