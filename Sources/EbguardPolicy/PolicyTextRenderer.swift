/// The stable text form printed by `ebguard policy show`: a header, then one line per compiled
/// rule in policy order: `id verdict kind matcher [details]`.
extension CompiledPolicy {
    public func renderText() -> String {
        var lines: [String] = []
        lines.append("policy: \(name)")
        if let description { lines.append("description: " + Self.oneLine(description)) }
        if mode == .shadow { lines.append("mode: shadow (nothing the policy denies or asks is refused: reported as would_deny/would_ask)") }
        lines.append("context: home=\(context.home) workspace=\(context.workspace)")
        lines.append("defaults: exec=\(defaults.exec.rawValue) file=\(defaults.file.rawValue) network=\(defaults.network.rawValue)")
        lines.append("session: no_new_privs=\(noNewPrivs) ask_timeout=\(askTimeout)s on_timeout=\(onTimeout.rawValue)")
        let rows = ruleRows()
        let idWidth = rows.map(\.id.count).max() ?? 0
        for row in rows {
            let cells = [pad(row.id, idWidth), pad(row.verdict, 5), pad(row.kind, 7), Self.oneLine(row.rest)]
            lines.append(cells.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func ruleRows() -> [(id: String, verdict: String, kind: String, rest: String)] {
        var rows: [(String, String, String, String)] = []
        for r in exec {
            var rest = r.matcher.renderedValue
            if let argv = r.argv { rest += " argv=[" + argv.tokens.joined(separator: " ") + "]" }
            rows.append((r.id.description, r.verdict.rawValue, r.matcher.kind, rest))
        }
        for r in file {
            let access = r.access == .all ? "all" : r.access.names.joined(separator: ",")
            rows.append((r.id.description, r.verdict.rawValue, r.matcher.kind,
                         r.matcher.renderedValue + " access=" + access + (r.unlessGit ? " unless=git" : "")))
        }
        for r in network {
            if let a = r.address {
                rows.append((r.id.description, r.verdict.rawValue, "cidr",
                             "\(a.network) ports=\(a.ports) protocol=\(a.protocol.rawValue)"))
            } else if let h = r.host {
                rows.append((r.id.description, r.verdict.rawValue, "host",
                             "\(h.pattern) ports=\(h.ports) protocol=\(h.protocol.rawValue)"))
            } else if let u = r.unix {
                rows.append((r.id.description, r.verdict.rawValue, "unix", u.renderedValue))
            }
        }
        return rows
    }

    /// Control characters (legal in file names) as `\xNN`, so every rule stays on one line.
    static func oneLine(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f {
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

extension PathMatcher {
    /// The matcher without its kind: `/etc/shadow`, `/home/u/.ssh/**`, `.env`.
    var renderedValue: String {
        switch self {
        case .basename(let name): name
        default: description
        }
    }
}
