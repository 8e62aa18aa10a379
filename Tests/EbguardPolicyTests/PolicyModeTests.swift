import EbguardPolicy
import Foundation
import Testing

/// `mode:` (issue 19): enforce (default) or shadow, parsed with file:line:column errors,
/// carried into the compiled policy and shown by `policy show` (text and JSON).
@Suite("Policy mode")
struct PolicyModeTests {
    @Test func enforceIsTheDefault() throws {
        let p = try parse("version: 1\nname: t\n")
        #expect(p.mode == .enforce)
        #expect(p.compile(in: testContext).mode == .enforce)
    }

    @Test func shadowAndEnforceParseAndCompile() throws {
        let shadow = try parse("version: 1\nname: t\nmode: shadow\n")
        #expect(shadow.mode == .shadow)
        #expect(shadow.compile(in: testContext).mode == .shadow)
        #expect(try parse("version: 1\nname: t\nmode: enforce\n").mode == .enforce)
    }

    @Test func badValuesNameTheirPlace() {
        #expect(errors("version: 1\nname: t\nmode: shadw\n", file: "a.yaml")
            == ["a.yaml:3:7: invalid value 'shadw' for 'mode' (expected enforce or shadow; did you mean 'shadow'?)"])
        #expect(errors("version: 1\nname: t\nmode: learn\n", file: "a.yaml")
            == ["a.yaml:3:7: invalid value 'learn' for 'mode' (expected enforce or shadow)"])
        // Not a string: the reader says what it found, at the value.
        let list = errors("version: 1\nname: t\nmode: [shadow]\n", file: "a.yaml")
        #expect(list.count == 1)
        #expect(list.first?.hasPrefix("a.yaml:3:7: ") == true)
        // A misspelt key is caught as any unknown key is.
        #expect(errors("version: 1\nname: t\nmod: shadow\n", file: "a.yaml")
            == ["a.yaml:3:1: unknown key 'mod' in policy (did you mean 'mode'?)"])
    }

    @Test func policyShowSaysShadowLoudly() throws {
        let shadow = try parse("version: 1\nname: t\nmode: shadow\n").compile(in: testContext)
        let text = shadow.renderText()
        #expect(text.contains("mode: shadow (nothing the policy denies or asks is refused"))
        let enforced = try parse("version: 1\nname: t\n").compile(in: testContext).renderText()
        #expect(!enforced.contains("mode:"))
    }

    @Test func policyShowJSONCarriesTheMode() throws {
        for mode in PolicyMode.allCases {
            let compiled = try parse("version: 1\nname: t\nmode: \(mode.rawValue)\n").compile(in: testContext)
            let object = try JSONSerialization.jsonObject(with: Data(compiled.renderJSON().utf8)) as? [String: Any]
            #expect(object?["mode"] as? String == mode.rawValue)
        }
    }
}
