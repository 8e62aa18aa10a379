internal import CEbguardABI
import EbguardBPF
import EbguardPolicy

/// Path patterns as the kernel reads them (bpf/lib/path_match.h, struct eg_path_glob): each
/// pattern is one entry under an anchor key, checked against the whole path on a hit.
extension PolicyMaps {
    /// Where a pattern may be looked up, best first; the compiler takes the first with room
    /// (`fits`). Each is exact (the kernel checks the whole pattern on a hit), they differ in
    /// which paths pay for the check:
    /// - the literal start or end of its final component `pre*suf` (GLOB_PREFIX, GLOB_SUFFIX:
    ///   only names with that start or end; `*.pem`, `id_*`), the longer of the two first;
    /// - each literal component after its head (GLOB_NAME, looked up for every component of a
    ///   path: `c0` of `/a/b/*/c0/*`, `.ssh` of `/home/*/.ssh/**`, `hooks` of `**/.git/hooks/**`),
    ///   the longest first and on a tie the deepest: only paths that hold that component pay,
    ///   where under the head every path below it did;
    /// - its literal head directory (GLOB_DIR, looked up with the subtrees at every directory
    ///   of a path; "" for the root, which every path meets).
    static func anchors(of glob: PathGlob) -> [(kind: eg_path_kind, key: String)] {
        var result: [(kind: eg_path_kind, key: String)] = []
        if case .star(let prefix, let suffix)? = glob.tokens.last {
            let ends = prefix.utf8.count > suffix.utf8.count
                ? [(kind: EG_PATH_GLOB_PREFIX, key: prefix), (kind: EG_PATH_GLOB_SUFFIX, key: suffix)]
                : [(kind: EG_PATH_GLOB_SUFFIX, key: suffix), (kind: EG_PATH_GLOB_PREFIX, key: prefix)]
            result += ends.filter { !$0.key.isEmpty && $0.key.utf8.count <= Int(EG_AFFIX_MAX) }
        }
        // Sound at any position: every path the pattern matches has each of its literal
        // components as a whole component, and the kernel probes every component of a path.
        let literals = glob.tail.enumerated().compactMap { position, token -> (text: String, position: Int)? in
            if case .literal(let text) = token { return (text, position) }
            return nil
        }
        var seen = Set<String>()
        for literal in literals.sorted(by: { ($0.text.utf8.count, $0.position) > ($1.text.utf8.count, $1.position) })
        where seen.insert(literal.text).inserted {
            result.append((EG_PATH_GLOB_NAME, literal.text))
        }
        result.append((EG_PATH_GLOB_DIR, headPath(of: glob)))
        return result
    }

    /// Where a directory rename must also look for `glob`'s verdicts (bpf/lib/path_ancestor.h,
    /// which says why this is sound): for each token after the head but the last, the pattern
    /// cut after it, a rename guard (EG_DOMAIN_RENAME); a `**` right after the head instead
    /// makes the head a star root (file domain, EG_PATH_STAR_ROOT), which counts only for a
    /// rename across it. `${workspace}/**/.git/hooks/**`: star root `${workspace}`, guards
    /// `${workspace}/**/.git` and `${workspace}/**/.git/hooks`.
    static func renameGuards(of glob: PathGlob) -> [PathSlot] {
        let tokens = glob.tokens, first = glob.head.count
        guard tokens.count > first + 1 else { return [] }  // one token: the pattern is its own guard
        var result: [PathSlot] = []
        for i in first..<(tokens.count - 1) {
            if i == first, tokens[i] == .any {
                let head = headPath(of: glob)
                // The root is above every path: a rename never crosses it.
                if !head.isEmpty {
                    result.append(PathSlot(domain: UInt8(EG_DOMAIN_FILE.rawValue), kind: UInt8(EG_PATH_STAR_ROOT.rawValue), path: head))
                }
                continue
            }
            let cut = PathGlob(tokens: Array(tokens[...i]))
            result.append(PathSlot(domain: UInt8(EG_DOMAIN_RENAME.rawValue), kind: UInt8(EG_PATH_GLOB_DIR.rawValue),
                                   path: cut.description, glob: cut))
        }
        return result
    }

    /// Per access kind the stronger of two merged values (the first keeps a tie).
    static func stronger(_ a: eg_path_rule, _ b: eg_path_rule) -> eg_path_rule {
        var result = a
        for k in 0..<Int(EG_ACCESS_KINDS.rawValue) {
            let mine = result.verdicts[k], theirs = b.verdicts[k]
            if theirs != UInt8(EG_VERDICT_NONE), mine == UInt8(EG_VERDICT_NONE) || Self.strength(theirs) > Self.strength(mine) {
                result.verdicts[k] = theirs
                result.rules[k] = b.rules[k]
            }
        }
        result.flags |= b.flags
        return result
    }

    /// Whether the kernel looks an anchor's key up by its bytes last to first.
    static func isReversed(_ kind: eg_path_kind) -> Bool { kind == EG_PATH_GLOB_SUFFIX }

    /// `file[3] (agent.yaml:40:5)`: how a compile error names a path (or `unix:`) rule.
    static func named(_ id: RuleID, in policy: CompiledPolicy) -> String {
        let location = policy.exec.first { $0.id == id }?.location ?? policy.file.first { $0.id == id }?.location
            ?? policy.network.first { $0.id == id }?.location
        return location.map { "\(id) (\($0))" } ?? "\(id)"
    }

    /// `/a/b` for a pattern whose head is [a, b]; "" for none (the root).
    static func headPath(of glob: PathGlob) -> String {
        glob.head.isEmpty ? "" : "/" + glob.head.joined(separator: "/")
    }

    /// The kernel's value for `glob`, carrying `merged`'s verdicts, rule indices and flags.
    /// `rankAlike`: rank 0, as rename guards take, so the verdict alone decides between two
    /// that match a path (a more specific audit guard must not hide a deny).
    static func globValue(_ glob: PathGlob, merged: eg_path_rule, rule: String, rankAlike: Bool = false) throws(CompileError) -> eg_path_rule {
        var value = eg_path_glob()
        value.verdict = merged.verdict
        value.rule = merged.rule
        value.flags = merged.flags
        value.rank = rankAlike ? 0 : UInt16(min(glob.rank, PathMatcher.exactRank - 1))
        let head = Array(headPath(of: glob).utf8)
        var text = head
        var tokens: [eg_glob_tok] = []
        let tail = Array(glob.tail)
        guard tail.count <= Int(EG_GLOB_TOKENS) else {
            throw CompileError(rule: rule, message: "pattern \(glob) has \(tail.count) components from its first wildcard on; the kernel checks at most \(EG_GLOB_TOKENS)")
        }
        for (i, token) in tail.enumerated() {
            let off = UInt8(truncatingIfNeeded: text.count)
            switch token {
            case .literal(let literal):
                tokens.append(eg_glob_tok(kind: UInt8(EG_GLOB_LIT.rawValue), off: off, pre: UInt8(literal.utf8.count), suf: 0))
                text += Array(literal.utf8)
            case .star(let prefix, let suffix):
                tokens.append(eg_glob_tok(kind: UInt8(EG_GLOB_STAR.rawValue), off: off, pre: UInt8(prefix.utf8.count),
                                          suf: UInt8(suffix.utf8.count)))
                text += Array(prefix.utf8) + Array(suffix.utf8)
            case .any:
                // The segment after this `**`: its tokens, and whether it is the last (then it
                // is placed at the path's end, else at its leftmost fit).
                let rest = tail[(i + 1)...]
                let segment = rest.prefix { $0 != .any }
                let last = segment.count == rest.count
                tokens.append(eg_glob_tok(kind: UInt8(EG_GLOB_ANY.rawValue), off: 0, pre: last ? 1 : 0,
                                          suf: UInt8(segment.count)))
            }
        }
        guard head.count < 256, text.count <= Int(EG_GLOB_TEXT) else {
            throw CompileError(rule: rule, message: "pattern \(glob) has \(text.count) literal bytes; the kernel holds at most \(EG_GLOB_TEXT)")
        }
        value.head = UInt8(head.count)
        value.hdepth = UInt8(glob.head.count)
        value.ntok = UInt8(tokens.count)
        withUnsafeMutableBytes(of: &value.tok) { raw in tokens.withUnsafeBytes { raw.copyMemory(from: $0) } }
        withUnsafeMutableBytes(of: &value.text) { $0.copyBytes(from: text) }
        return unsafeBitCast(value, to: eg_path_rule.self)
    }

    /// The key of the `index`-th pattern on one anchor: the anchor's key, its hash + index.
    /// A suffix's key hashes its bytes last to first, as the kernel's backward walk does.
    static func globKey(policyID: UInt32, domain: UInt8, anchor: (kind: eg_path_kind, key: String), index: Int) -> eg_path_key {
        var key = Self.key(policyID: policyID, domain: domain, kind: UInt8(anchor.kind.rawValue), path: anchor.key)
        if isReversed(anchor.kind) {
            // Bytes, not a String: a suffix's UTF-8 read backwards is no valid UTF-8.
            let bytes = Array(anchor.key.utf8.reversed())
            key.hash = bytes.withUnsafeBytes { eg_path_hash($0.baseAddress, UInt32($0.count)) }
        }
        key.hash &+= UInt64(index)
        return key
    }
}
