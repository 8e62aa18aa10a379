/// The product name and version that exported records carry (OCSF `metadata.product`, the
/// OTLP scope, the syslog APP-NAME).
public enum AuditProduct {
    public static let name = "ebguard"
    public static let version = "0.1.0"
}

/// Maps decision records to OCSF 1.3.0 events (docs/audit.md has the table):
/// `exec` -> Process Activity (1007), `file` -> File System Activity (1001),
/// `network` -> Network Activity (4001). Other records have no OCSF class here and map to nil.
public enum OCSFMapping {
    public static let schemaVersion = "1.3.0"

    public static func event(for record: AuditRecord) -> JSONValue? {
        guard case .decision(let d) = record.event else { return nil }
        var event: [String: JSONValue]
        switch d.kind {
        case .exec: event = processActivity(d)
        case .file: event = fileActivity(d)
        case .network: event = networkActivity(d)
        case .unix, .tamper: return nil
        }
        let classUID = event["class_uid"]!.intValue!
        let activityID = event["activity_id"]!.intValue!
        let blocked = d.verdict == .deny || d.verdict == .ask
        event["type_uid"] = .int(classUID * 100 + activityID)
        event["time"] = .int(record.time.milliseconds)
        event["severity_id"] = .int(severity(d.verdict).id)
        event["severity"] = .string(severity(d.verdict).name)
        event["status_id"] = .int(blocked ? 2 : 1)
        event["status"] = .string(blocked ? "Failure" : "Success")
        event["disposition_id"] = .int(blocked ? 2 : 1)
        event["disposition"] = .string(blocked ? "Blocked" : "Allowed")
        event["action_id"] = .int(blocked ? 2 : 1)
        event["action"] = .string(blocked ? "Denied" : "Allowed")
        event["message"] = .string("\(d.verdict.rawValue) \(d.kind.rawValue) \(d.access) \(d.object) by \(d.comm)[\(d.pid)]")
        // A summary of repeats is OCSF's aggregate: `count` events between start and end time.
        if let repeats = d.repeats {
            event["count"] = .int(Int64(clamping: repeats))
            if let first = d.firstTime.flatMap(AuditTime.init(rfc3339:)) { event["start_time"] = .int(first.milliseconds) }
            if let last = d.lastTime.flatMap(AuditTime.init(rfc3339:)) { event["end_time"] = .int(last.milliseconds) }
        }
        event["metadata"] = [
            "version": .string(schemaVersion),
            "product": ["name": .string(AuditProduct.name), "vendor_name": .string(AuditProduct.name),
                        "version": .string(AuditProduct.version)],
            "uid": .string("\(record.host.machineID):\(record.seq)"),
            "sequence": .int(Int64(record.seq)),
            "original_time": .string(record.time.rfc3339),
            "log_name": "ebguard-audit",
            "profiles": ["host", "security_control"],
        ]
        event["device"] = [
            "hostname": .string(record.host.name), "uid": .string(record.host.machineID),
            "type_id": 0, "os": ["name": "Linux", "type_id": 100, "type": "Linux"],
        ]
        var actorProcess: [String: JSONValue] = ["pid": .int(Int64(d.pid)), "name": .string(d.comm)]
        if let exe = d.exe { actorProcess["file"] = file(exe) }
        if let uid = d.uid { actorProcess["user"] = ["uid": .string(String(uid))] }
        event["actor"] = ["process": .object(actorProcess)]
        event["policy"] = ["name": .string(d.rule)]
        event["unmapped"] = [
            "ebguard_session": .string(d.session), "ebguard_verdict": .string(d.verdict.rawValue),
            "ebguard_access": .string(d.access), "ebguard_rule": .string(d.rule),
        ]
        return .object(event)
    }

    static func severity(_ verdict: AuditVerdict) -> (id: Int64, name: String) {
        switch verdict {
        case .deny: (3, "Medium")
        case .ask: (2, "Low")
        case .audit, .allow: (1, "Informational")
        }
    }

    static func file(_ path: String) -> JSONValue {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return ["path": .string(path), "name": .string(name), "type_id": 1, "type": "Regular File"]
    }

    static func processActivity(_ d: AuditDecision) -> [String: JSONValue] {
        var process: [String: JSONValue] = [
            "name": .string(d.object.split(separator: "/").last.map(String.init) ?? d.object),
            "file": file(d.object),
        ]
        if let argv = d.argv { process["cmd_line"] = .string(argv.joined(separator: " ")) }
        return ["category_uid": 1, "category_name": "System Activity", "class_uid": 1007,
                "class_name": "Process Activity", "activity_id": 1, "activity_name": "Launch",
                "process": .object(process)]
    }

    static func fileActivity(_ d: AuditDecision) -> [String: JSONValue] {
        let (id, name): (Int64, String) = switch d.access {
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
                "file": file(d.object)]
    }

    static func networkActivity(_ d: AuditDecision) -> [String: JSONValue] {
        let target = d.network ?? parseEndpoint(d.object)
        var endpoint: [String: JSONValue] = [:]
        if let address = target?.address { endpoint["ip"] = .string(address) }
        if let port = target?.port { endpoint["port"] = .int(Int64(port)) }
        if let host = target?.hostname { endpoint["hostname"] = .string(host) }
        if endpoint.isEmpty { endpoint["name"] = .string(d.object) }
        var connection: [String: JSONValue] = ["direction_id": 2, "direction": "Outbound"]
        switch target?.transport {
        case "tcp": connection["protocol_num"] = 6; connection["protocol_name"] = "tcp"
        case "udp": connection["protocol_num"] = 17; connection["protocol_name"] = "udp"
        default: break
        }
        let refused = d.verdict == .deny || d.verdict == .ask
        return ["category_uid": 4, "category_name": "Network Activity", "class_uid": 4001,
                "class_name": "Network Activity", "activity_id": refused ? 5 : 1,
                "activity_name": refused ? "Refuse" : "Open",
                "dst_endpoint": .object(endpoint), "connection_info": .object(connection)]
    }

    /// `1.2.3.4:443/tcp`, `[2001:db8::1]:53/udp`, `example.com:443` (the suffix is optional).
    static func parseEndpoint(_ object: String) -> AuditNetworkTarget? {
        var text = Substring(object)
        var transport = ""
        if let slash = text.lastIndex(of: "/") {
            transport = String(text[text.index(after: slash)...])
            text = text[..<slash]
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        return AuditNetworkTarget(address: isAddress ? String(host) : nil, port: port, transport: transport,
                                  hostname: isAddress ? nil : String(host))
    }
}
