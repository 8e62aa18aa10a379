#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A wall-clock instant, nanoseconds since the Unix epoch, UTC.
///
/// Written in records as RFC 3339 with microseconds in UTC (`2026-05-04T09:12:33.482113Z`):
/// a fixed width, so the text sorts like the time and reads the same everywhere.
public struct AuditTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The current time from `clock_gettime(CLOCK_REALTIME)`.
    public static func now() -> AuditTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return AuditTime(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    public static func < (a: AuditTime, b: AuditTime) -> Bool { a.nanoseconds < b.nanoseconds }

    public var milliseconds: Int64 { nanoseconds.floorDiv(1_000_000) }

    /// RFC 3339, UTC, six fractional digits.
    public var rfc3339: String {
        var out: [UInt8] = []
        appendRFC3339(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `rfc3339` written into bytes: every audit record carries one.
    public func appendRFC3339(into out: inout [UInt8]) {
        var seconds = time_t(nanoseconds.floorDiv(1_000_000_000))
        let micros = Int((nanoseconds - Int64(seconds) * 1_000_000_000) / 1000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            if rest >= divisor * 10 { out.appendDecimal(Int64(rest / (divisor * 10))); rest %= divisor * 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(tm.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(tm.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(micros, 6); out.append(UInt8(ascii: "Z"))
    }

    public var description: String { rfc3339 }

    /// Parses RFC 3339 (`2026-05-04T09:12:33Z`, any number of fractional digits, `Z` or an
    /// offset such as `+02:00`), or a bare date (`2026-05-04`, midnight UTC).
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for c in b[from..<from + count] {
                guard (48...57).contains(c) else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let year = num(0, 4), b.count >= 10, b[4] == UInt8(ascii: "-"), let month = num(5, 2),
              b[7] == UInt8(ascii: "-"), let day = num(8, 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var tm = tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month - 1)
        tm.tm_mday = Int32(day)
        var nanos: Int64 = 0
        var offsetSeconds = 0
        if b.count > 10 {
            guard b.count >= 20, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
                  let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2),
                  b[16] == UInt8(ascii: ":"), let second = num(17, 2), hour < 24, minute < 60, second < 61
            else { return nil }
            tm.tm_hour = Int32(hour)
            tm.tm_min = Int32(minute)
            tm.tm_sec = Int32(second)
            var i = 19
            if b[i] == UInt8(ascii: ".") {
                i += 1
                var digits = 0
                while i < b.count, (48...57).contains(b[i]) {
                    if digits < 9 { nanos = nanos * 10 + Int64(b[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<max(digits, 9) { nanos *= 10 }
            }
            guard i < b.count else { return nil }
            switch b[i] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                guard i + 1 == b.count else { return nil }
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard i + 6 == b.count, let oh = num(i + 1, 2), b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2)
                else { return nil }
                offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            default: return nil
            }
        }
        let seconds = Int64(timegm(&tm)) - Int64(offsetSeconds)
        self.nanoseconds = seconds * 1_000_000_000 + nanos
    }
}

extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
