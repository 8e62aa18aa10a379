@testable import EbguardDaemon
import Foundation
import Testing

/// docs/events.md is what scripts are written against: its JSON example must be a line the
/// daemon's renderer writes, and its schema table must name every field the renderer can write.
struct EventDocsTests {
    static let document: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/events.md"), encoding: .utf8)) ?? ""
    }()

    /// The bodies of the document's ```json blocks.
    static var jsonExamples: [String] {
        var examples: [String] = []
        var current: [Substring]?
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.hasPrefix("```json") {
                current = []
            } else if current != nil, line.hasPrefix("```") {
                examples.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return examples
    }

    /// The first column of the schema table: "| `name` | type | meaning |".
    static var documentedFields: Set<String> {
        var fields: Set<String> = []
        for line in document.split(separator: "\n") where line.hasPrefix("| `") {
            let cell = line.dropFirst(3)
            if let end = cell.firstIndex(of: "`") { fields.insert(String(cell[..<end])) }
        }
        return fields
    }

    @Test func theExampleIsALineTheRendererWrites() throws {
        let examples = Self.jsonExamples
        try #require(!examples.isEmpty, "docs/events.md has no ```json example")
        for example in examples {
            let event = try JSONDecoder().decode(GovernedEvent.self, from: Data(example.utf8))
            let rendered = try JSONSerialization.jsonObject(with: Data(event.jsonBytes())) as? NSDictionary
            let documented = try JSONSerialization.jsonObject(with: Data(example.utf8)) as? NSDictionary
            // Same fields with the same values: the example neither lacks nor invents one.
            #expect(rendered == documented, "docs/events.md example differs from what the renderer writes:\n\(example)")
        }
    }

    @Test func theSchemaTableNamesEveryFieldTheRendererWrites() throws {
        var event = GovernedEvent(seq: 1, time: "2026-11-23T16:05:33.852Z", kind: .decision, action: "answer", session: "s-1",
                                  sessionID: 2, pid: 3, ppid: 4, uid: 5, user: "u", comm: "c", exe: "/e", argv: ["a"],
                                  verdict: .allow, blocked: false, object: "/o", detail: "exec", rule: "exec[0]",
                                  ruleLocation: "p.yaml:1:2", reason: .answered, exitCode: 0, message: "m")
        event.askID = 7
        event.answeredBy = "alice"
        event.scope = .once
        let line = try #require(try JSONSerialization.jsonObject(with: Data(event.jsonBytes())) as? [String: Any])
        let missing = Set(line.keys).subtracting(Self.documentedFields)
        #expect(missing.isEmpty, "fields the renderer writes that docs/events.md does not document: \(missing.sorted())")
    }
}
