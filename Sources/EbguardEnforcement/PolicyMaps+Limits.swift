internal import CEbguardABI
import EbguardBPF
import EbguardPolicy

/// What the kernel side can hold, checked while compiling: a policy that does not fit is
/// refused with the rule and the limit named, before a single entry is written, instead of
/// trapping on a narrowing conversion or failing halfway through the map updates.
extension PolicyMaps {
    /// Rule indices travel as a __u16 and EG_RULE_DEFAULT (0xffff) means "the default decided",
    /// so each domain numbers at most 65,535 rules, 0 through 65,534.
    public static let maxRulesPerDomain = Int(EG_RULE_DEFAULT)

    /// Throws for the first rule of any domain whose index does not fit in a kernel rule number.
    static func checkRuleIndices(_ policy: CompiledPolicy) throws(CompileError) {
        let domains = [policy.exec.map(\.id), policy.file.map(\.id), policy.network.map(\.id)]
        for ids in domains {
            guard let id = ids.first(where: { $0.index >= maxRulesPerDomain }) else { continue }
            throw CompileError(rule: "\(id)", message: "too many \(id.domain.rawValue) rules: the kernel numbers at most "
                               + "\(grouped(maxRulesPerDomain)) rules per domain (16-bit rule numbers; 0xffff names the default)")
        }
    }

    /// Throws when a map cannot hold one entry per rule of `firstRules` (the rule that made
    /// each entry, in policy order) plus `reserved` others, naming the rule whose entry is the
    /// first past the limit. The maps are shared by every session, so a policy that fits can
    /// still meet a full map: then `Session` removes what it wrote and reports the failed update.
    static func checkCapacity(_ firstRules: [RuleID], reserved: Int = 0, limit: Int, map: String,
                              what: String) throws(CompileError) {
        let entries = firstRules.count + reserved
        guard entries > limit else { return }
        let rule = firstRules[max(0, limit - reserved)]
        throw CompileError(rule: "\(rule)", message: "the policy needs \(grouped(entries)) \(what); the kernel's \(map) map "
                           + "holds at most \(grouped(limit)), shared by every session")
    }

    /// 65535 as "65,535".
    static func grouped(_ n: Int) -> String {
        var digits = String(n)
        var index = digits.endIndex
        while digits.distance(from: digits.startIndex, to: index) > 3 {
            index = digits.index(index, offsetBy: -3)
            digits.insert(",", at: index)
        }
        return digits
    }
}
