/// Decisions and the answers to asks as OCSF activity events: `exec` and `tamper` -> Process
/// Activity (1007), `file` -> File System Activity (1001), `network` and `unix` -> Network
/// Activity (4001). An answer goes to the class of the decision it answers, so that a SIEM
/// finds both under the same class and object.
enum OCSFDecisions {
    static func event(_ d: AuditDecision) -> [String: JSONValue] {
        var event: [String: JSONValue]
        switch d.kind {
        case .exec: event = processActivity(d)
        case .file: event = fileActivity(access: d.access, path: d.object)
        case .network, .unix: event = networkActivity(d.kind, object: d.object, target: d.network, refused: blocked(d.verdict))
        case .tamper: event = tamper(d)
        }
        event.merge(OCSFMapping.outcome(blocked: blocked(d.verdict), severity: OCSFMapping.severity(d.verdict))) { $1 }
        event["actor"] = ["process": actorProcess(d)]
        event["message"] = .string("\(d.verdict.rawValue) \(d.kind.rawValue) \(d.access) \(d.object) by \(d.comm)[\(d.pid)]")
        event["policy"] = ["name": .string(d.rule)]
        // A summary of repeats is OCSF's aggregate: `count` events between start and end time.
        if let repeats = d.repeats {
            event["count"] = .int(Int64(clamping: repeats))
            if let first = d.firstTime.flatMap(AuditTime.init(rfc3339:)) { event["start_time"] = .int(first.milliseconds) }
            if let last = d.lastTime.flatMap(AuditTime.init(rfc3339:)) { event["end_time"] = .int(last.milliseconds) }
        }
        var unmapped: [String: JSONValue] = [
            "ebguard_session": .string(d.session), "ebguard_verdict": .string(d.verdict.rawValue),
            "ebguard_access": .string(d.access), "ebguard_rule": .string(d.rule), "ebguard_object": .string(d.object),
        ]
        if let id = d.askID { unmapped["ebguard_ask_id"] = .int(Int64(clamping: id)) }
        event["unmapped"] = .object(unmapped)
        return event
    }

    /// An operator's (or the timeout's) answer: allowed or blocked, by whom, for how long.
    static func answer(_ a: AuditAskAnswer) -> [String: JSONValue] {
        let refused = a.answer != .allow
        var event: [String: JSONValue]
        switch a.kind {
        case .exec:
            var process: [String: JSONValue] = ["cmd_line": .string(a.object),
                                                "name": .string(OCSFMapping.baseName(a.object.split(separator: " ").first.map(String.init) ?? a.object))]
            // `process` needs a pid or a uid; records from before answers carried the pid have neither.
            if let pid = a.pid { process["pid"] = .int(Int64(pid)) } else { process["uid"] = .string("\(a.session):ask:\(a.askID ?? 0)") }
            event = processClass(activity: (1, "Launch"), process: .object(process))
        case .file: event = fileActivity(access: "open", path: a.object)
        default: event = networkActivity(a.kind, object: a.object, target: nil, refused: refused)
        }
        event.merge(OCSFMapping.outcome(blocked: refused, severity: refused ? (2, "Low") : (1, "Informational"))) { $1 }
        var actor: [String: JSONValue] = [:]
        if let pid = a.pid { actor["process"] = ["pid": .int(Int64(pid)), "name": .string(a.comm ?? "")] }
        if a.timedOut { actor["app_name"] = .string(AuditProduct.name) } else { actor["user"] = ["name": .string(a.answeredBy)] }
        event["actor"] = .object(actor)
        let who = a.timedOut ? "no answer in time" : "answered by \(a.answeredBy)"
        event["message"] = .string("\(a.answer.rawValue) \(a.kind.rawValue) \(a.object): \(who) (scope \(a.scope.rawValue))")
        var unmapped: [String: JSONValue] = [
            "ebguard_session": .string(a.session), "ebguard_answer": .string(a.answer.rawValue),
            "ebguard_scope": .string(a.scope.rawValue), "ebguard_answered_by": .string(a.answeredBy),
            "ebguard_timed_out": .bool(a.timedOut), "ebguard_object": .string(a.object),
        ]
        if let id = a.askID { unmapped["ebguard_ask_id"] = .int(Int64(clamping: id)) }
        event["unmapped"] = .object(unmapped)
        return event
    }

    static func blocked(_ verdict: AuditVerdict) -> Bool { verdict == .deny || verdict == .ask }

    /// The process that did it. For an exec, `exe` is the program being run (the event's
    /// `process`), not the actor's own.
    static func actorProcess(_ d: AuditDecision) -> JSONValue {
        var process: [String: JSONValue] = ["pid": .int(Int64(d.pid)), "name": .string(d.comm)]
        if let exe = d.exe, !(d.kind == .exec && exe == d.object) { process["file"] = OCSFMapping.file(exe) }
        if let uid = d.uid { process["user"] = ["uid": .string(String(uid))] }
        return .object(process)
    }

    static func processClass(activity: (Int64, String), process: JSONValue) -> [String: JSONValue] {
        ["category_uid": 1, "category_name": "System Activity", "class_uid": 1007, "class_name": "Process Activity",
         "activity_id": .int(activity.0), "activity_name": .string(activity.1), "process": process]
    }

    /// An exec keeps its pid: the launched process is the actor's pid running the new program.
    static func processActivity(_ d: AuditDecision) -> [String: JSONValue] {
        var process: [String: JSONValue] = ["pid": .int(Int64(d.pid)), "name": .string(OCSFMapping.baseName(d.object)),
                                            "file": OCSFMapping.file(d.object)]
        if let argv = d.argv { process["cmd_line"] = .string(argv.joined(separator: " ")) }
        if let uid = d.uid { process["user"] = ["uid": .string(String(uid))] }
        return processClass(activity: (1, "Launch"), process: .object(process))
    }

    /// Tampering with ebguard or leaving the session: Process Activity, activity Other. The
    /// process acted on is the target of a signal or ptrace (`signal to pid 42`), else the actor.
    static func tamper(_ d: AuditDecision) -> [String: JSONValue] {
        var target: [String: JSONValue] = ["pid": .int(Int64(d.pid)), "name": .string(d.comm)]
        let words = d.object.split(separator: " ")
        if words.count >= 2, words[words.count - 2] == "pid", let pid = Int64(words[words.count - 1]) {
            target = ["pid": .int(pid)]
        }
        return processClass(activity: (99, "Other"), process: .object(target))
    }

    static func fileActivity(access: String, path: String) -> [String: JSONValue] {
        // The first access of a combined mask (`read,write`) names the activity.
        let first = access.split(separator: ",").first.map(String.init) ?? access
        let (id, name): (Int64, String) = switch first {
        case "create", "mkdir", "mknod", "symlink", "link": (1, "Create")
        case "read": (2, "Read")
        case "write", "append", "truncate": (3, "Update")
        case "unlink", "rmdir", "delete": (4, "Delete")
        case "rename": (5, "Rename")
        case "chmod", "chown", "setattr": (6, "Set Attributes")
        case "open", "exec", "mmap", "mprotect": (14, "Open")
        default: (99, "Other")
        }
        return ["category_uid": 1, "category_name": "System Activity", "class_uid": 1001,
                "class_name": "File System Activity", "activity_id": .int(id), "activity_name": .string(name),
                "file": OCSFMapping.file(path)]
    }

    static func networkActivity(_ kind: AuditObjectKind, object: String, target given: AuditNetworkTarget?,
                                refused: Bool) -> [String: JSONValue] {
        var endpoint: [String: JSONValue] = [:]
        var connection: [String: JSONValue] = ["direction_id": 2, "direction": "Outbound"]
        if kind == .unix {
            // A Unix socket has a path, no address: the endpoint's name.
            endpoint["name"] = .string(object)
            connection["protocol_name"] = "unix"
        } else {
            let target = given ?? OCSFMapping.parseEndpoint(object)
            if let address = target?.address { endpoint["ip"] = .string(address) }
            if let port = target?.port { endpoint["port"] = .int(Int64(port)) }
            if let host = target?.hostname { endpoint["hostname"] = .string(host) }
            if endpoint["ip"] == nil, endpoint["hostname"] == nil { endpoint["name"] = .string(object) }
            switch target?.transport {
            case "tcp": connection["protocol_num"] = 6; connection["protocol_name"] = "tcp"
            case "udp": connection["protocol_num"] = 17; connection["protocol_name"] = "udp"
            default: break
            }
        }
        return ["category_uid": 4, "category_name": "Network Activity", "class_uid": 4001,
                "class_name": "Network Activity", "activity_id": refused ? 5 : 1,
                "activity_name": refused ? "Refuse" : "Open",
                "dst_endpoint": .object(endpoint), "connection_info": .object(connection)]
    }
}
