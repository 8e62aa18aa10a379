/// The text forms of a `DecisionEvent`: pure renderers of its typed facts, shared by
/// `ebguard run`'s lines and the daemon's events.
extension DecisionEvent {
    /// The object as events write it: a path, `address:port`, a socket path, what was tampered with.
    public var objectText: String { Self.text(of: object) }

    /// An object's text, as events write it.
    public static func text(of object: Object) -> String {
        switch object {
        case .path(let path): path
        case .unresolvedPath: "(unresolved path)"
        case .destination(let destination): destination.endpointText
        case .socket(let family, let type, let protocolNumber): "socket(family \(family), type \(type), protocol \(protocolNumber))"
        case .unixPath(let path): path
        case .tamper(let what, let targetPID): Self.tamperName(what) + (targetPID != 0 ? " pid \(targetPID)" : "")
        }
    }

    /// `read,write` for files, the transport for connects, `unix`, `socket`, `exec`, `tamper`.
    public var detail: String {
        switch object {
        case .path, .unresolvedPath: kind == .exec ? "exec" : Self.accessNames(accessMask)
        case .destination(let destination): destination.transport
        case .socket: "socket"
        case .unixPath: "unix"
        case .tamper: "tamper"
        }
    }

    /// What was attempted: exec, open, create, delete, ..., connect, tamper.
    public var action: String {
        switch kind {
        case .exec: "exec"
        case .file:
            // Reads and writes are opens; otherwise the first access named (create, delete, ...).
            accessMask & ~0b11 == 0 ? "open" : Self.accessNames(accessMask).split(separator: ",").first.map(String.init) ?? "open"
        case .network, .unix: if case .socket = object { "create" } else { "connect" }
        case .tamper: "tamper"
        }
    }

    /// `ebguard: denied open /home/u/.ssh/id_rsa (read) by rule file[2]`.
    public func line(home: String?) -> String { "ebguard: " + message(home: home) }

    /// `line(home:)` without the `ebguard: ` prefix: what the daemon publishes as the message.
    public func message(home: String?) -> String { message(home: home, objectText: objectText) }

    /// The same, for a caller that already rendered `objectText` (the daemon renders it once
    /// per event, for the message and the event's `object`).
    public func message(home: String?, objectText object: String) -> String {
        if kind == .tamper { return "denied \(object) by self-protection" }
        var text = ""
        text.reserveCapacity(object.utf8.count + 80)
        switch verdict {
        case .wouldDeny: text += "would deny (shadow, not enforced) "
        case .wouldAsk: text += "would ask (shadow, not enforced) "
        default: text += blocked ? (verdict == .ask ? "denied (ask, no one to answer yet) " : "denied ") : (verdict == .audit ? "audited " : "allowed ")
        }
        text += action
        text += " "
        if let home, !home.isEmpty, object.utf8.count > home.utf8.count, object.hasPrefix(home),
           object.utf8[object.utf8.index(object.utf8.startIndex, offsetBy: home.utf8.count)] == UInt8(ascii: "/") {
            text += "~"
            text += Substring(object.utf8.dropFirst(home.utf8.count))
        } else {
            text += object
        }
        if kind != .exec { text += " (" + detail + ")" }
        if let host { text += " [" + host + "]" }
        switch reason {
        case .answered: text += blocked ? " (blocked by the operator)" : " (approved by the operator)"
        case .unresolved: text += blocked ? " (path could not be resolved: fail closed)" : " (path could not be resolved)"
        case .tooLong: text += blocked ? " (path too long: fail closed)" : " (path too long)"
        case .noPolicy: text += blocked ? " (session without policy: fail closed)" : " (session without policy)"
        case .tamper: text += " (tampering with ebguard)"
        case .resolver: text += " (another session's resolver)"
        case .vettedGit: text += " by a vetted git (rule " + (rule?.description ?? "?") + ", unless: git)"
        default:
            if let rule {
                text += " by rule " + rule.description
            } else {
                text += kind == .exec ? " by the exec default" : kind == .file ? " by the file default" : " by the network default"
            }
        }
        return text
    }
}
