/// The records that are not decisions, as OCSF events: a session is its command's process
/// (Process Activity 1007, Launch / Terminate), a policy change an update of a managed entity
/// (Entity Management 3004), the daemon starting and stopping Application Lifecycle (6002), and
/// the log's own faults (lost events, a recovered torn line) Application Error (6008).
enum OCSFRecords {
    static func session(_ s: AuditSession, stop: Bool) -> [String: JSONValue] {
        // The session's id is the process's producer-assigned uid: its pid is the client's business.
        var process: [String: JSONValue] = ["uid": .string(s.session)]
        if let command = s.command, let program = command.first {
            process["name"] = .string(OCSFMapping.baseName(program))
            process["cmd_line"] = .string(command.joined(separator: " "))
            if program.hasPrefix("/") { process["file"] = OCSFMapping.file(program) }
        }
        if let user = s.user { process["user"] = ["name": .string(user)] }
        var event = OCSFDecisions.processClass(activity: stop ? (2, "Terminate") : (1, "Launch"), process: .object(process))
        event["severity_id"] = 1
        event["severity"] = "Informational"
        event["actor"] = s.user.map { ["user": ["name": .string($0)]] } ?? ["app_name": .string(AuditProduct.name)]
        var policy: [String: JSONValue] = ["name": .string(s.policy)]
        if !s.policySHA256.isEmpty { policy["uid"] = .string(s.policySHA256) }
        event["policy"] = .object(policy)
        if let status = s.exitStatus { event["exit_code"] = .int(Int64(status)) }
        let command = s.command.map { " " + $0.joined(separator: " ") } ?? ""
        event["message"] = .string(stop ? "session \(s.session) ended\(s.exitStatus.map { " (exit status \($0))" } ?? "")"
                                        : "session \(s.session) started under policy \(s.policy):\(command)")
        var unmapped: [String: JSONValue] = ["ebguard_session": .string(s.session), "ebguard_policy": .string(s.policy),
                                             "ebguard_policy_sha256": .string(s.policySHA256)]
        if let path = s.policyPath { unmapped["ebguard_policy_path"] = .string(path) }
        event["unmapped"] = .object(unmapped)
        return event
    }

    static func policyChange(_ p: AuditPolicyChange) -> [String: JSONValue] {
        func entity(_ sha: String?) -> JSONValue {
            var e: [String: JSONValue] = ["name": .string(p.policy), "type": "Policy"]
            if let sha { e["uid"] = .string(sha) }
            if let path = p.policyPath { e["data"] = ["path": .string(path)] }
            return .object(e)
        }
        var event: [String: JSONValue] = [
            "category_uid": 3, "category_name": "Identity & Access Management", "class_uid": 3004,
            "class_name": "Entity Management", "activity_id": 3, "activity_name": "Update",
            "severity_id": 1, "severity": "Informational",
            "entity": entity(p.oldSHA256), "entity_result": entity(p.newSHA256),
            "message": .string("policy of \(p.session.map { "session \($0)" } ?? "the host") replaced by \(p.policy)"
                                + (p.changedBy.map { " (by \($0))" } ?? "")),
        ]
        event["actor"] = p.changedBy.map { ["user": ["name": .string($0)]] } ?? ["app_name": .string(AuditProduct.name)]
        var unmapped: [String: JSONValue] = ["ebguard_policy": .string(p.policy), "ebguard_new_sha256": .string(p.newSHA256)]
        if let session = p.session { unmapped["ebguard_session"] = .string(session) }
        if let old = p.oldSHA256 { unmapped["ebguard_old_sha256"] = .string(old) }
        if let path = p.policyPath { unmapped["ebguard_policy_path"] = .string(path) }
        if let by = p.changedBy { unmapped["ebguard_changed_by"] = .string(by) }
        event["unmapped"] = .object(unmapped)
        return event
    }

    static func daemon(_ d: AuditDaemon, stop: Bool) -> [String: JSONValue] {
        var event: [String: JSONValue] = [
            "category_uid": 6, "category_name": "Application Activity", "class_uid": 6002,
            "class_name": "Application Lifecycle", "activity_id": stop ? 4 : 3, "activity_name": stop ? "Stop" : "Start",
            "severity_id": 1, "severity": "Informational", "status_id": 1, "status": "Success",
            "app": ["name": .string(AuditProduct.name), "vendor_name": .string(AuditProduct.name), "version": .string(d.version)],
            "actor": ["process": ["pid": .int(Int64(d.pid)), "name": .string(AuditProduct.name)]],
            "message": .string("ebguard \(d.version) \(stop ? "stopped" : "started") (pid \(d.pid))" + (d.reason.map { ": \($0)" } ?? "")),
        ]
        if let reason = d.reason { event["status_detail"] = .string(reason) }
        return event
    }

    static func applicationError(severity: (Int64, String), message: String, unmapped: [String: JSONValue]) -> [String: JSONValue] {
        ["category_uid": 6, "category_name": "Application Activity", "class_uid": 6008, "class_name": "Application Error",
         "activity_id": 1, "activity_name": "General Error", "severity_id": .int(severity.0), "severity": .string(severity.1),
         "actor": ["app_name": .string(AuditProduct.name)], "message": .string(message), "unmapped": .object(unmapped)]
    }

    static func lostEvents(_ l: AuditLostEvents) -> [String: JSONValue] {
        let what = l.source == "ringbuf" ? "kernel events lost (ring buffer full)" : "audit records dropped before the log"
        var unmapped: [String: JSONValue] = ["ebguard_source": .string(l.source), "ebguard_count": .int(Int64(clamping: l.count))]
        if let session = l.session { unmapped["ebguard_session"] = .string(session) }
        var event = applicationError(severity: (3, "Medium"), message: "\(l.count) \(what)", unmapped: unmapped)
        event["count"] = .int(Int64(clamping: l.count))
        return event
    }

    static func recovery(_ r: AuditRecovery) -> [String: JSONValue] {
        applicationError(severity: (2, "Low"),
                         message: "audit log recovered after a crash: \(r.tornBytes) torn bytes at \(r.file):\(r.line) kept as evidence",
                         unmapped: ["ebguard_file": .string(r.file), "ebguard_line": .int(Int64(r.line)),
                                    "ebguard_torn_bytes": .int(Int64(r.tornBytes)), "ebguard_torn_sha256": .string(r.tornSHA256)])
    }
}
