import EbguardAudit
import EbguardPolicy
import Foundation

/// Why a trail could not be read. Every case names the place.
public struct TrailError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A session's decisions, read from audit-format files (the daemon's log and its rotated files,
/// or a file a learn session wrote) with `EbguardAudit`'s own reader.
public struct Trail: Sendable {
    /// The session's key as the records name it (`name-1a2b3c4d`).
    public var session: String
    public var observations: [Observation]
    /// The session's policy, from its `session_start` record, when there is one.
    public var policyName: String?
    public var command: [String]?
    /// Decisions left out, by why: `tamper`, or a decision the kernel made without a rule
    /// (`unresolved`, `too-long`, resolver limits), which no policy changes.
    public var notDecidedByPolicy: UInt64 = 0
    public var tamper: UInt64 = 0
    /// `lost_events` records for this session (or for everyone): the trail may be incomplete.
    public var lostEvents: UInt64 = 0

    /// Rule names a policy gives: `default`, `answered` (an operator's answer) or `domain[N]`.
    static func isPolicyRule(_ rule: String) -> Bool {
        if rule == "default" || rule == "answered" { return true }
        for domain in ["exec[", "file[", "network["] where rule.hasPrefix(domain) && rule.hasSuffix("]") {
            return Int(rule.dropFirst(domain.count).dropLast()) != nil
        }
        return false
    }

    /// Reads `files` (oldest first) and keeps the decisions of the session `name`: its exact key,
    /// or the one key `name-<hex>` that starts with it. A line that is not a record (unless a
    /// `recovery` record names it as a crash's torn line), a decision whose fields do not fit,
    /// an unknown or ambiguous session: `TrailError`, naming the file and line.
    public static func read(files: [String], session name: String) throws(TrailError) -> Trail {
        var stored: [Stored] = []
        for file in files {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
                throw TrailError("\(file): no such file")
            }
            if isDirectory.boolValue { throw TrailError("\(file): is a directory, not an audit trail") }
            stored += try records(in: file)
        }
        let key = try resolveSession(name, in: stored, files: files)
        var trail = Trail(session: key, observations: [])
        var answers: [UInt64: Bool] = [:]
        for s in stored where s.session == key {
            guard let record = s.record, record.type == "ask_answer" else { continue }
            if let id = record.data["ask_id"]?.intValue, let answer = record.data["answer"]?.stringValue {
                answers[UInt64(id)] = answer == "allow"
            }
        }
        trail.observations.reserveCapacity(stored.count)
        for s in stored {
            if let decoded = s.decision {
                guard s.session == key else { continue }
                switch decoded {
                case .failure(let error): throw error
                case .success(.tamper(let n)): trail.tamper += n
                case .success(.notDecidedByPolicy(let n)): trail.notDecidedByPolicy += n
                case .success(.observation(var o, let askID)):
                    // A held exec runs if the operator's answer allowed it.
                    if o.recordedVerdict == "ask", case .exec = o.target, let askID, answers[askID] == true { o.outcome = .allowed }
                    trail.observations.append(o)
                }
                continue
            }
            guard let record = s.record else { continue }
            let data = record.data
            switch record.type {
            case "session_start" where s.session == key:
                trail.policyName = data["policy"]?.stringValue
                trail.command = data["command"]?.arrayValue?.compactMap(\.stringValue)
            case "lost_events":
                if s.session == nil || s.session == key { trail.lostEvents += UInt64(data["count"]?.intValue ?? 0) }
            default:
                continue
            }
        }
        return trail
    }

    /// A record and where it was.
    struct Stored {
        var file: String
        var line: Int
        /// `data.session`, when the record has one.
        var session: String?
        /// The record, except for decisions, which are kept decoded (a trail is mostly
        /// decisions, and their parsed JSON is most of the memory).
        var record: AuditRecord?
        var decision: Result<Decoded, TrailError>?
    }

    /// A decision record, decoded.
    enum Decoded {
        case observation(Observation, askID: UInt64?)
        case tamper(UInt64)
        case notDecidedByPolicy(UInt64)
    }

    /// Every line of `file` parsed with `AuditRecord(line:)`, EbguardAudit's own parser, on
    /// every core (a 100,000-record trail is ~45 MB of JSON). A line that is not a record is an
    /// error naming it, unless a `recovery` record names it as a crash's torn line.
    static func records(in file: String) throws(TrailError) -> [Stored] {
        guard let data = FileManager.default.contents(atPath: file) else { throw TrailError("\(file): cannot be read") }
        let bytes = [UInt8](data)
        var lines: [Range<Int>] = []
        var start = 0
        bytes.withUnsafeBufferPointer { buf in
            for i in 0..<buf.count where buf[i] == UInt8(ascii: "\n") {
                lines.append(start..<i)
                start = i + 1
            }
        }
        let unterminated = start < bytes.count
        if unterminated { lines.append(start..<bytes.count) }
        var parsed = [Result<Stored, AuditRecordError>?](repeating: nil, count: lines.count)
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, lines.count / 2048 + 1))
        let ranges = lines
        parsed.withUnsafeMutableBufferPointer { out in
            let out = UnsafeSendable(out)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = ranges.count * c / chunks, hi = ranges.count * (c + 1) / chunks
                for n in lo..<hi {
                    do throws(AuditRecordError) {
                        let record = try AuditRecord(line: bytes[ranges[n]])
                        var stored = Stored(file: file, line: n + 1, session: record.data["session"]?.stringValue, record: record)
                        if record.type == "decision" {
                            stored.record = nil
                            do throws(TrailError) {
                                stored.decision = .success(try decode(decision: record.data, at: "\(file):\(n + 1)"))
                            } catch {
                                stored.decision = .failure(error)
                            }
                        }
                        out.value[n] = .success(stored)
                    } catch {
                        out.value[n] = .failure(error)
                    }
                }
            }
        }
        var out: [Stored] = []
        out.reserveCapacity(lines.count)
        var bad: [(Int, AuditRecordError)] = []
        for (n, result) in parsed.enumerated() {
            switch result! {
            case .success(let stored): out.append(stored)
            case .failure(let error): bad.append((n + 1, error))
            }
        }
        let recovered = Set(out.compactMap { s -> Int? in
            guard let record = s.record, record.type == "recovery", let line = record.data["line"]?.intValue else { return nil }
            return Int(line)
        })
        if let (number, error) = bad.first(where: { !recovered.contains($0.0) }) {
            let torn = unterminated && number == lines.count ? " (an unterminated last line: a crash the log has not recovered from yet?)" : ""
            throw TrailError("\(file):\(number): \(error)\(torn); run `ebguard audit verify \(file)`")
        }
        return out
    }

    static func resolveSession(_ name: String, in stored: [Stored], files: [String]) throws(TrailError) -> String {
        var keys: [String] = []
        var seen = Set<String>()
        for s in stored {
            guard let key = s.session, !key.isEmpty, seen.insert(key).inserted else { continue }
            keys.append(key)
        }
        if keys.contains(name) { return name }
        let matching = keys.filter { key in
            guard key.hasPrefix(name + "-") else { return false }
            let suffix = key.dropFirst(name.count + 1)
            return !suffix.isEmpty && suffix.allSatisfy(\.isHexDigit)
        }
        let place = files.joined(separator: ", ")
        if matching.count == 1 { return matching[0] }
        if matching.count > 1 {
            throw TrailError("\(place): session '\(name)' is ambiguous: \(matching.joined(separator: ", ")); name one by its key")
        }
        let known = keys.isEmpty ? "it holds no session's records" : "sessions there: " + keys.suffix(20).joined(separator: ", ")
        throw TrailError("\(place): no session '\(name)' (\(known))")
    }

    static func decode(decision data: JSONValue, at place: String) throws(TrailError) -> Decoded {
        func field(_ name: String) throws(TrailError) -> String {
            guard let value = data[name]?.stringValue else { throw TrailError("\(place): decision lacks a valid \"\(name)\" field") }
            return value
        }
        let kind = try field("kind"), object = try field("object"), access = try field("access")
        let rule = try field("rule"), verdict = try field("verdict"), comm = try field("comm")
        let repeats = data["repeats"]?.intValue ?? 0
        guard repeats >= 0 else { throw TrailError("\(place): decision has a negative \"repeats\"") }
        // A summary of repeats stands for that many more occurrences (docs/audit.md).
        let count = data["repeats"] == nil ? 1 : UInt64(repeats)
        if kind == "tamper" { return .tamper(count) }
        guard isPolicyRule(rule) else { return .notDecidedByPolicy(count) }
        let outcome: Observation.Outcome
        switch verdict {
        case "allow", "audit": outcome = .allowed
        // A shadow session enforces nothing: what its policy would have refused went through.
        case "would_deny", "would_ask": outcome = .allowed
        case "deny": outcome = .refused
        case "ask":
            // File and network asks refuse at once (the retry after an answer is another
            // event); a held exec runs if the answer allowed it (decided once answers are read).
            outcome = .refused
        default:
            throw TrailError("\(place): decision has an unknown verdict '\(verdict)'")
        }
        let target: Observation.Target
        switch kind {
        case "exec":
            guard object.hasPrefix("/") else { throw TrailError("\(place): exec decision's object '\(object)' is not an absolute path") }
            let argv = data["argv"]?.arrayValue?.compactMap(\.stringValue)
            target = .exec(path: object, argv: argv)
        case "file":
            guard object.hasPrefix("/") else { throw TrailError("\(place): file decision's object '\(object)' is not an absolute path") }
            var bits = FileAccess()
            for name in access.split(separator: ",") {
                guard let kind = FileAccess(name: String(name)) else {
                    throw TrailError("\(place): file decision has an unknown access '\(name)'")
                }
                bits.insert(kind)
            }
            guard !bits.isEmpty else { throw TrailError("\(place): file decision has no access") }
            target = .file(path: object, access: bits)
        case "unix":
            // Abstract sockets have no path and no rule can name them.
            guard object.hasPrefix("/") else { return .notDecidedByPolicy(count) }
            target = .unix(path: object)
        case "network":
            guard let net = data["network"], let transport = net["transport"]?.stringValue else {
                throw TrailError("\(place): network decision lacks a valid \"network\" field")
            }
            let host = net["hostname"]?.stringValue.map(HostPattern.canonical)
            if transport == "dns" {
                guard let host else { throw TrailError("\(place): lookup decision names no host") }
                target = .lookup(name: host)
            } else {
                guard let text = net["address"]?.stringValue, let address = IPAddress(text) else {
                    throw TrailError("\(place): network decision has no valid \"network.address\"")
                }
                guard let port = net["port"]?.intValue, (0...65535).contains(port) else {
                    throw TrailError("\(place): network decision has no valid \"network.port\"")
                }
                guard let proto = TransportProtocol(rawValue: transport) else {
                    throw TrailError("\(place): network decision has an unknown transport '\(transport)'")
                }
                target = .connect(address: address, port: UInt16(port), transport: proto, host: host)
            }
        default:
            throw TrailError("\(place): decision has an unknown kind '\(kind)'")
        }
        let askID = data["ask_id"]?.intValue.map(UInt64.init)
        return .observation(Observation(target: target, recordedVerdict: verdict, recordedRule: rule, outcome: outcome,
                                        comm: comm, exe: data["exe"]?.stringValue, count: count, source: place), askID: askID)
    }
}

/// A buffer the parallel parse writes disjoint parts of.
struct UnsafeSendable<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
