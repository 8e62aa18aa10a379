/// An inclusive range of ports.
public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public let low: UInt16
    public let high: UInt16

    public init?(low: UInt16, high: UInt16) {
        guard low <= high else { return nil }
        self.low = low
        self.high = high
    }

    /// Parses `443` or `8000-8999`; ports are 1-65535 and low <= high.
    public init(parsing text: String) throws(PolicyValueError) {
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        func port(_ s: Substring) throws(PolicyValueError) -> UInt16 {
            let s = s.trimmingSpaces
            guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(s),
                  (1...65535).contains(v)
            else {
                throw PolicyValueError("invalid port '\(s)' in '\(text)' (ports are 1-65535)")
            }
            return UInt16(v)
        }
        let low = try port(bounds[0])
        let high = bounds.count == 2 ? try port(bounds[1]) : low
        guard low <= high else {
            throw PolicyValueError("invalid port range '\(text)' (\(low) is greater than \(high))")
        }
        self.low = low
        self.high = high
    }

    public func contains(_ port: UInt16) -> Bool { (low...high).contains(port) }

    /// `443` or `8000-8999`.
    public var description: String { low == high ? "\(low)" : "\(low)-\(high)" }
}

/// The ports a network rule matches: every port, or a union of ranges.
public struct PortSet: Sendable, Hashable, CustomStringConvertible {
    /// Sorted, non-overlapping, non-adjacent ranges; empty means every port.
    public let ranges: [PortRange]

    /// Every port (a rule without `ports`).
    public static let any = PortSet(ranges: [])

    /// Sorts and merges `ranges`; an empty list means every port.
    public init(ranges: [PortRange]) {
        var merged: [PortRange] = []
        for r in ranges.sorted(by: { ($0.low, $0.high) < ($1.low, $1.high) }) {
            if let last = merged.last, UInt32(r.low) <= UInt32(last.high) + 1 {
                merged[merged.count - 1] = PortRange(low: last.low, high: max(last.high, r.high))!
            } else {
                merged.append(r)
            }
        }
        self.ranges = merged
    }

    public var isAny: Bool { ranges.isEmpty }

    public func contains(_ port: UInt16) -> Bool {
        isAny || ranges.contains { $0.contains(port) }
    }

    /// `any` or `22,443,8000-8999`.
    public var description: String { isAny ? "any" : ranges.map(\.description).joined(separator: ",") }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
