/// Audit records as an OTLP/HTTP JSON logs request (`ExportLogsServiceRequest`):
/// one resource (this host), one scope (`ebguard.audit`), one log record per audit record.
/// The body is the record's exact line; its fields are attributes named `ebguard.<field>`
/// (payload fields) or `ebguard.seq`, `ebguard.type`, `ebguard.prev` (envelope). As the OTLP
/// JSON mapping requires, 64-bit integers (`timeUnixNano`, `intValue`) are strings.
public enum OTLPFormat {
    public static func request(_ records: [AuditStoredRecord], host: HostIdentity) -> JSONValue {
        let resource: JSONValue = ["attributes": .array([
            attribute("host.name", .string(host.name)),
            attribute("host.id", .string(host.machineID)),
            attribute("service.name", .string(AuditProduct.name)),
            attribute("service.version", .string(AuditProduct.version)),
            attribute("os.type", "linux"),
        ])]
        let scope: JSONValue = ["name": "ebguard.audit", "version": .string(AuditProduct.version)]
        return ["resourceLogs": [["resource": resource, "scopeLogs": [["scope": scope,
                                                                        "logRecords": .array(records.map(logRecord))]]]]]
    }

    static func logRecord(_ stored: AuditStoredRecord) -> JSONValue {
        let r = stored.record
        var attributes: [JSONValue] = [
            attribute("ebguard.seq", .int(Int64(r.seq))),
            attribute("ebguard.type", .string(r.type)),
            attribute("ebguard.prev", .string(r.prev)),
        ]
        if let fields = r.data.objectValue {
            for key in fields.keys.sorted() where fields[key] != .null {
                attributes.append(attribute("ebguard.\(key)", fields[key]!))
            }
        }
        let (number, text) = severity(r)
        let nanos = String(r.time.nanoseconds)
        return [
            "timeUnixNano": .string(nanos), "observedTimeUnixNano": .string(nanos),
            "severityNumber": .int(number), "severityText": .string(text),
            "body": ["stringValue": .string(String(decoding: stored.bytes, as: UTF8.self))],
            "attributes": .array(attributes),
        ]
    }

    /// OTLP SeverityNumber: INFO 9, INFO2 10 (notice), WARN 13.
    static func severity(_ r: AuditRecord) -> (Int64, String) {
        switch SyslogFormat.severity(r) {
        case 4: (13, "WARN")
        case 5: (10, "INFO2")
        default: (9, "INFO")
        }
    }

    static func attribute(_ key: String, _ value: JSONValue) -> JSONValue {
        ["key": .string(key), "value": anyValue(value)]
    }

    static func anyValue(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let s): ["stringValue": .string(s)]
        case .int(let i): ["intValue": .string(String(i))]
        case .bool(let b): ["boolValue": .bool(b)]
        case .double(let d): ["stringValue": .string(String(d))]
        case .null: [:]
        case .array(let items): ["arrayValue": ["values": .array(items.map(anyValue))]]
        case .object(let fields):
            ["kvlistValue": ["values": .array(fields.keys.sorted().map { attribute($0, fields[$0]!) })]]
        }
    }
}
