/// A JSON value, as the audit log writes and reads it.
///
/// The log's bytes are what the hash chain covers, so they must come out the same on every
/// machine and every run: `canonicalBytes` writes the canonical form (see `docs/audit.md`),
/// which is RFC 8785 (JCS) restricted to the values ebguard writes: objects with keys sorted
/// by their UTF-8 bytes, no whitespace, integers only, strings escaped minimally.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Only read, never written by ebguard: a number with a fraction or an exponent.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The canonical serialization: the exact bytes that go into the log and into the hash.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// The canonical serialization as a string.
    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }

    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            // Never produced by ebguard; written in Swift's shortest round-trip form.
            if d.isFinite, d == d.rounded(), abs(d) < 1e15 {
                out.append(contentsOf: Array(String(Int64(d)).utf8))
            } else {
                out.append(contentsOf: Array((d.isFinite ? "\(d)" : "null").utf8))
            }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            let keys = fields.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                fields[key]!.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// JCS string escaping: `"` and `\` escaped, control characters as `\b \t \n \f \r` or
    /// `\u00xx` (lowercase hex), everything else (including `/` and non-ASCII) as raw UTF-8.
    static func writeString(_ s: String, into out: inout [UInt8]) { out.appendJSONString(s) }
}

/// Building JSON text straight into bytes: the daemon renders an event line and an audit record
/// for every denial, and going through `String` cost more than the rest of the work.
extension Array where Element == UInt8 {
    /// `s` as a JSON string in the JCS form (see `JSONValue.writeString`).
    public mutating func appendJSONString(_ s: String) {
        // Native strings (all of ours) are contiguous: no copy of `s`, which would cost a retain.
        if s.utf8.withContiguousStorageIfAvailable({ appendJSONString(utf8: $0) }) != nil { return }
        var s = s
        s.makeContiguousUTF8()
        s.utf8.withContiguousStorageIfAvailable { appendJSONString(utf8: $0) }
    }

    /// Copies runs that need no escape whole: most names and paths are one run.
    public mutating func appendJSONString(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        append(UInt8(ascii: "\""))
        var run = 0
        for index in Self.firstByteToEscape(in: bytes)..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
            run = index + 1
            append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): append(byte)
            case 0x08: append(UInt8(ascii: "b"))
            case 0x09: append(UInt8(ascii: "t"))
            case 0x0A: append(UInt8(ascii: "n"))
            case 0x0C: append(UInt8(ascii: "f"))
            case 0x0D: append(UInt8(ascii: "r"))
            default:
                let hex: StaticString = "0123456789abcdef"
                append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                append(hex.utf8Start[Int(byte >> 4)])
                append(hex.utf8Start[Int(byte & 0xF)])
            }
        }
        append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        append(UInt8(ascii: "\""))
    }

    /// Where the byte-by-byte scan must start: the words before it hold no control character,
    /// quote or backslash. Eight bytes at a time, because every event line and audit record
    /// escapes a dozen strings; a word that may hold one (the test errs only that way) ends it.
    static func firstByteToEscape(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ word: UInt64) -> Bool { (word &- ones) & ~word & highs != 0 }
        var index = 0
        while index + 8 <= bytes.count {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            let control = (word &- ones &* 0x20) & ~word & highs != 0
            if control || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C)) { break }
            index += 8
        }
        return index
    }

    /// `strings` as a JSON array of strings.
    public mutating func appendJSONStrings(_ strings: [String]) {
        append(UInt8(ascii: "["))
        for (index, string) in strings.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            appendJSONString(string)
        }
        append(UInt8(ascii: "]"))
    }

    /// JSON text that is already JSON (punctuation, keys): copied as is.
    public mutating func appendRaw(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    // Not generic: a generic across modules is not specialized, and dispatching through the
    // witness table cost more than the digits.
    public mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        appendDecimal(magnitude: value.magnitude)
    }

    public mutating func appendDecimal(_ value: UInt64) { appendDecimal(magnitude: value) }

    /// Digits written backwards into a 20-byte tuple: `String(value)` was a tenth of a line's cost.
    private mutating func appendDecimal(magnitude: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            var value = magnitude
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            append(contentsOf: buffer[start...])
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
