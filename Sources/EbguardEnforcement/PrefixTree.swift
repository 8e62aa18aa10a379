/// A binary trie over the bits of one address family, holding values at the prefixes they
/// were inserted at.
///
/// The network compiler must find, for every prefix of a policy, every rule whose prefix
/// covers it. Testing each rule against each prefix is quadratic (10,000 rules took seconds on
/// the host, minutes in the VM); walking one prefix's bits down this tree meets exactly the
/// prefixes that cover it, so the whole compile is O(rules × prefix length).
struct PrefixTree<Value> {
    /// Three Int32 per node (child for bit 0, child for bit 1, index in `values`; -1 for none),
    /// in one flat array: 10,000 IPv6 host prefixes make over a million nodes, too many to
    /// allocate one by one.
    private var nodes: [Int32] = [-1, -1, -1]
    /// Values of the nodes that have any, in insertion order.
    private var values: [[Value]] = []

    init() {}

    /// Adds `value` at the prefix of `bytes` (network order) that is `length` bits long.
    mutating func insert(_ value: Value, bytes: [UInt8], length: Int) {
        var node = 0
        for bit in 0..<length {
            let slot = node * 3 + (Self.isSet(bytes, bit) ? 1 : 0)
            if nodes[slot] < 0 {
                nodes[slot] = Int32(nodes.count / 3)
                nodes.append(contentsOf: [-1, -1, -1])
            }
            node = Int(nodes[slot])
        }
        if nodes[node * 3 + 2] < 0 {
            nodes[node * 3 + 2] = Int32(values.count)
            values.append([])
        }
        values[Int(nodes[node * 3 + 2])].append(value)
    }

    /// The values at every prefix that covers the prefix of `bytes` `length` bits long (itself
    /// included): one group per prefix, the longest prefix first, each in insertion order.
    func covering(bytes: [UInt8], length: Int) -> [[Value]] {
        var groups: [[Value]] = []
        var node = 0
        for bit in 0...length {
            if nodes[node * 3 + 2] >= 0 { groups.append(values[Int(nodes[node * 3 + 2])]) }
            guard bit < length else { break }
            let next = nodes[node * 3 + (Self.isSet(bytes, bit) ? 1 : 0)]
            guard next >= 0 else { break }
            node = Int(next)
        }
        return groups.reversed()
    }

    private static func isSet(_ bytes: [UInt8], _ bit: Int) -> Bool {
        bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0
    }
}
