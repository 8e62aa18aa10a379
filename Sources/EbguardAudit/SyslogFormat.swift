/// Audit records as RFC 5424 syslog messages, framed by octet counting (RFC 6587 §3.4.1):
///
/// ```
/// 1187 <109>1 2026-05-04T09:12:33.482113Z web-1 ebguard - decision [ebguard@32473 seq="42" type="decision"
///   machine_id="…" prev="…" session="s-1" kind="file" verdict="deny" …] {"data":{…},"host":{…},…}
/// ```
/// The structured data carries the envelope and the payload's scalar fields (for collector-side
/// filtering); MSG is the UTF-8 BOM and then the record's exact line, so a collector holds the
/// very bytes the chain hashes (after the BOM's three bytes) and can verify them. SD-ID `ebguard@32473` uses the enterprise number RFC 5612
/// reserves for documentation: ebguard has none of its own.
public enum SyslogFormat {
    public static let sdID = "ebguard@32473"
    /// RFC 5424 §6.4: a MSG encoded in UTF-8 MUST start with the BOM (MSG-UTF8). A record is
    /// always UTF-8 (JSON with raw non-ASCII), so every MSG gets it, ASCII-only ones included:
    /// one rule, and a collector strips the same three bytes from every message.
    public static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The message without framing.
    public static func message(_ stored: AuditStoredRecord, facility: Int) -> [UInt8] {
        let r = stored.record
        let pri = facility * 8 + severity(r)
        var sd: [(String, String)] = [
            ("seq", String(r.seq)), ("type", r.type), ("machine_id", r.host.machineID), ("prev", r.prev),
        ]
        if let fields = r.data.objectValue {
            for key in fields.keys.sorted() {
                switch fields[key]! {
                case .string(let s): sd.append((key, s))
                case .int(let i): sd.append((key, String(i)))
                case .bool(let b): sd.append((key, b ? "true" : "false"))
                case .null: continue
                case let other: sd.append((key, other.canonicalString))
                }
            }
        }
        let params = sd.map { "\(paramName($0.0))=\"\(escape($0.1))\"" }.joined(separator: " ")
        let header = "<\(pri)>1 \(r.time.rfc3339) \(headerField(r.host.name, max: 255)) ebguard - \(headerField(r.type, max: 32))"
        return Array("\(header) [\(sdID) \(params)] ".utf8) + bom + stored.bytes
    }

    /// `LEN SP MSG`.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        Array("\(message.count) ".utf8) + message
    }

    /// Deny and lost events are warnings; asks and recoveries notices; the rest informational.
    static func severity(_ r: AuditRecord) -> Int {
        switch r.type {
        case "lost_events": return 4
        case "recovery", "policy_change": return 5
        case "decision":
            switch r.data["verdict"]?.stringValue {
            case "deny": return 4
            case "ask": return 5
            default: return 6
            }
        default: return 6
        }
    }

    /// PRINTUSASCII without spaces, or `-` when empty.
    static func headerField(_ s: String, max: Int) -> String {
        let cleaned = String(s.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.prefix(max).map(Character.init))
        return cleaned.isEmpty ? "-" : cleaned
    }

    /// SD-NAME: up to 32 printable ASCII, no `=`, space, `]` or `"`.
    static func paramName(_ s: String) -> String {
        let cleaned = s.unicodeScalars.filter { $0.value > 32 && $0.value < 127 && !"=]\"".unicodeScalars.contains($0) }
        return String(String.UnicodeScalarView(cleaned.prefix(32)))
    }

    /// PARAM-VALUE: UTF-8 with `"`, `\` and `]` escaped by a backslash.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "\"" || c == "\\" || c == "]" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
