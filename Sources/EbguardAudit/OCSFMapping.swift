import EbguardVersion

/// The product name and version that exported records carry (OCSF `metadata.product`, the
/// OTLP resource and scope, the syslog APP-NAME, the forwarders' User-Agent).
public enum AuditProduct {
    public static let name = "ebguard"
    public static let version = EbguardVersion.string
}

/// Maps every audit record to an OCSF event (docs/audit.md has the table).
///
/// OCSF 1.8.0, the newest release: 1.4.0 is the first that gives every activity class the
/// `security_control` profile's `policy` (the rule that decided) next to `disposition` and
/// `action`, and Application Error (6008) for a log's own faults; 1.3.0, declared before, has
/// neither, so a strict validator refused every event. The tests validate every record type
/// against the official 1.8.0 schema (Fixtures/audit_validate.py).
public enum OCSFMapping {
    public static let schemaVersion = "1.8.0"

    /// The event for `record`; nil only for a record type this version does not know.
    public static func event(for record: AuditRecord) -> JSONValue? {
        guard let payload = record.event else { return nil }
        var event: [String: JSONValue]
        switch payload {
        case .decision(let d): event = OCSFDecisions.event(d)
        case .askAnswer(let a): event = OCSFDecisions.answer(a)
        case .sessionStart(let s): event = OCSFRecords.session(s, stop: false)
        case .sessionStop(let s): event = OCSFRecords.session(s, stop: true)
        case .policyChange(let p): event = OCSFRecords.policyChange(p)
        case .daemonStart(let d): event = OCSFRecords.daemon(d, stop: false)
        case .daemonStop(let d): event = OCSFRecords.daemon(d, stop: true)
        case .lostEvents(let l): event = OCSFRecords.lostEvents(l)
        case .recovery(let r): event = OCSFRecords.recovery(r)
        }
        let classUID = event["class_uid"]!.intValue!
        let activityID = event["activity_id"]!.intValue!
        event["type_uid"] = .int(classUID * 100 + activityID)
        event["time"] = .int(record.time.milliseconds)
        // `security_control` only where its attributes (policy, disposition, action) are used.
        let securityControl = event["disposition_id"] != nil || event["policy"] != nil
        event["metadata"] = [
            "version": .string(schemaVersion),
            "product": ["name": .string(AuditProduct.name), "vendor_name": .string(AuditProduct.name),
                        "version": .string(AuditProduct.version)],
            "uid": .string("\(record.host.machineID):\(record.seq)"),
            "sequence": .int(Int64(record.seq)),
            "original_time": .string(record.time.rfc3339),
            "log_name": "ebguard-audit",
            "profiles": securityControl ? ["host", "security_control"] : ["host"],
        ]
        // type_id 0 Unknown: ebguard cannot tell a server from a desktop; os.type_id 200 is Linux.
        event["device"] = [
            "hostname": .string(record.host.name), "uid": .string(record.host.machineID),
            "type_id": 0, "type": "Unknown", "os": ["name": "Linux", "type_id": 200, "type": "Linux"],
        ]
        var unmapped = event["unmapped"]?.objectValue ?? [:]
        unmapped["ebguard_type"] = .string(record.type)
        event["unmapped"] = .object(unmapped)
        return .object(event)
    }

    static func severity(_ verdict: AuditVerdict) -> (id: Int64, name: String) {
        switch verdict {
        case .deny: (3, "Medium")
        case .ask: (2, "Low")
        case .audit, .allow, .wouldDeny, .wouldAsk: (1, "Informational")
        }
    }

    /// OCSF `file`: `name` and `type_id` are required.
    static func file(_ path: String) -> JSONValue {
        ["path": .string(path), "name": .string(baseName(path)), "type_id": 1, "type": "Regular File"]
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Severity, status, disposition and action of something allowed or blocked.
    static func outcome(blocked: Bool, severity: (id: Int64, name: String)) -> [String: JSONValue] {
        [
            "severity_id": .int(severity.id), "severity": .string(severity.name),
            "status_id": .int(blocked ? 2 : 1), "status": .string(blocked ? "Failure" : "Success"),
            "disposition_id": .int(blocked ? 2 : 1), "disposition": .string(blocked ? "Blocked" : "Allowed"),
            "action_id": .int(blocked ? 2 : 1), "action": .string(blocked ? "Denied" : "Allowed"),
        ]
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
