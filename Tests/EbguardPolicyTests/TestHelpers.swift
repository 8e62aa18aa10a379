import EbguardPolicy
import Testing

/// The context every test compiles against unless it says otherwise.
let testContext = try! PolicyContext(home: "/home/u", workspace: "/home/u/proj")

func parse(_ yaml: String, file: String = "p.yaml") throws -> Policy {
    try Policy.parse(yaml: yaml, file: file)
}

/// A policy with the given rule sections, compiled for `testContext`.
func compile(_ body: String, defaults: String = "") throws -> CompiledPolicy {
    let yaml = "version: 1\nname: t\n" + defaults + body
    return try parse(yaml).compile(in: testContext)
}

/// The diagnostics of a policy that must fail, as `file:line:column: message` strings.
func errors(_ yaml: String, file: String = "p.yaml") -> [String] {
    do {
        _ = try Policy.parse(yaml: yaml, file: file)
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad test address \(text)") }
    return a
}
