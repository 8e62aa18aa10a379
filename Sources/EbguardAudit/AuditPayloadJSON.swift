/// The payloads as JSON, built field by field. The log writes one record per decision, so
/// this is the hot path: going through `JSONEncoder` and reparsing its output cost several
/// times more than the rest of a record together. Decoding still uses the `Codable`
/// conformances; `AuditPayloadJSONTests` holds the two to the same keys and values.
protocol AuditPayload: Codable {
    /// The fields in canonical order (keys sorted by their bytes); nil values are left out.
    var fields: KeyValuePairs<String, JSONValue?> { get }
    /// The canonical bytes of `json`; by default written from `fields`.
    func writeCanonical(into out: inout [UInt8])
}

extension AuditPayload {
    var json: JSONValue { .fields(fields) }

    /// The canonical bytes of `json`, written without building it: the fields are already in
    /// canonical order (`AuditPayloadJSONTests` checks that they are).
    func writeCanonical(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for case (let key, let value?) in fields {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            value.write(into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

extension JSONValue {
    /// An object of the fields that are present: a nil value leaves its key out, as
    /// `JSONEncoder` does for optionals.
    static func fields(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
        var object: [String: JSONValue] = [:]
        object.reserveCapacity(pairs.count)
        for case (let key, let value?) in pairs { object[key] = value }
        return .object(object)
    }

    static func string(_ s: String?) -> JSONValue? { s.map(JSONValue.string) }
    static func int<I: BinaryInteger>(_ i: I?) -> JSONValue? { i.map { .int(Int64($0)) } }
    static func strings(_ a: [String]?) -> JSONValue? { a.map { .array($0.map(JSONValue.string)) } }
}

extension AuditNetworkTarget {
    var json: JSONValue { .fields(fields) }

    var fields: KeyValuePairs<String, JSONValue?> {
        ["address": .string(address),
         "hostname": .string(hostname),
         "port": .int(port),
         "transport": .string(transport)]
    }
}

extension AuditDecision: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["access": .string(access),
         "argv": .strings(argv),
         "ask_id": .int(askID),
         "comm": .string(comm),
         "exe": .string(exe),
         "first_time": .string(firstTime),
         "kind": .string(kind.rawValue),
         "last_time": .string(lastTime),
         "network": network?.json,
         "object": .string(object),
         "pid": .int(pid),
         "repeats": .int(repeats),
         "rule": .string(rule),
         "session": .string(session),
         "uid": .int(uid),
         "verdict": .string(verdict.rawValue)]
    }
}

extension AuditDecision {
    /// `fields`, written without building them: one of these per denial, the hottest record
    /// by far. Keys in canonical order, as in `fields` (`AuditPayloadJSONTests` compares).
    func writeCanonical(into out: inout [UInt8]) {
        out.appendRaw("{\"access\":"); out.appendJSONString(access)
        if let argv {
            out.appendRaw(",\"argv\":"); out.appendJSONStrings(argv)
        }
        if let askID { out.appendRaw(",\"ask_id\":"); out.appendDecimal(askID) }
        out.appendRaw(",\"comm\":"); out.appendJSONString(comm)
        if let exe { out.appendRaw(",\"exe\":"); out.appendJSONString(exe) }
        if let firstTime { out.appendRaw(",\"first_time\":"); out.appendJSONString(firstTime) }
        out.appendRaw(",\"kind\":"); out.appendJSONString(kind.rawValue)
        if let lastTime { out.appendRaw(",\"last_time\":"); out.appendJSONString(lastTime) }
        if let network {
            out.appendRaw(",\"network\":{")
            var first = true
            func key(_ name: StaticString) {
                if !first { out.appendRaw(",") }
                first = false
                out.appendRaw(name)
            }
            if let address = network.address { key("\"address\":"); out.appendJSONString(address) }
            if let hostname = network.hostname { key("\"hostname\":"); out.appendJSONString(hostname) }
            key("\"port\":"); out.appendDecimal(UInt64(network.port))
            key("\"transport\":"); out.appendJSONString(network.transport)
            out.appendRaw("}")
        }
        out.appendRaw(",\"object\":"); out.appendJSONString(object)
        out.appendRaw(",\"pid\":"); out.appendDecimal(Int64(pid))
        if let repeats { out.appendRaw(",\"repeats\":"); out.appendDecimal(repeats) }
        out.appendRaw(",\"rule\":"); out.appendJSONString(rule)
        out.appendRaw(",\"session\":"); out.appendJSONString(session)
        if let uid { out.appendRaw(",\"uid\":"); out.appendDecimal(UInt64(uid)) }
        out.appendRaw(",\"verdict\":"); out.appendJSONString(verdict.rawValue)
        out.appendRaw("}")
    }
}

extension AuditAskAnswer: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["answer": .string(answer.rawValue),
         "answered_by": .string(answeredBy),
         "ask_id": .int(askID),
         "comm": .string(comm),
         "kind": .string(kind.rawValue),
         "object": .string(object),
         "pid": .int(pid),
         "scope": .string(scope.rawValue),
         "session": .string(session),
         "timed_out": .bool(timedOut)]
    }
}

extension AuditSession: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["command": .strings(command),
         "exit_status": .int(exitStatus),
         "policy": .string(policy),
         "policy_path": .string(policyPath),
         "policy_sha256": .string(policySHA256),
         "session": .string(session),
         "user": .string(user)]
    }
}

extension AuditPolicyChange: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["changed_by": .string(changedBy),
         "new_sha256": .string(newSHA256),
         "old_sha256": .string(oldSHA256),
         "policy": .string(policy),
         "policy_path": .string(policyPath),
         "session": .string(session)]
    }
}

extension AuditDaemon: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["pid": .int(pid),
         "reason": .string(reason),
         "version": .string(version)]
    }
}

extension AuditLostEvents: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["count": .int(count),
         "session": .string(session),
         "source": .string(source)]
    }
}

extension AuditRecovery: AuditPayload {
    var fields: KeyValuePairs<String, JSONValue?> {
        ["file": .string(file),
         "line": .int(line),
         "torn_bytes": .int(tornBytes),
         "torn_sha256": .string(tornSHA256)]
    }
}
