/// What an upstream answer says a name resolves to: the addresses a session may connect to
/// because it asked for `name`, and the CNAME chain that led there (for the event).
public struct DNSResolution: Equatable, Sendable {
    /// One A or AAAA record on the chain, with its TTL (RFC 2181 §8: a TTL with the top bit set
    /// means 0, so `ttl` is at most 2^31 - 1).
    public struct Address: Equatable, Hashable, Sendable, CustomStringConvertible {
        public let address: DNSIPAddress
        public let ttl: UInt32
        /// The chain name that owns the record (the last CNAME target, normally).
        public let owner: DNSName

        public init(address: DNSIPAddress, ttl: UInt32, owner: DNSName) {
            self.address = address
            self.ttl = ttl
            self.owner = owner
        }

        public var description: String { "\(address) ttl \(ttl)" }
    }

    /// The question's name: the name policy decided on.
    public let name: DNSName
    /// `name` first, then each CNAME target in order. Only `name` when there is no CNAME.
    public let chain: [DNSName]
    public let addresses: [Address]
    public let responseCode: DNSResponseCode
    /// The upstream set TC: the answer is partial and the client will retry over TCP.
    public let truncated: Bool

    /// Longer chains are cut here; a real CDN chain has three or four links.
    public static let maxChainLength = 16

    public init(name: DNSName, chain: [DNSName], addresses: [Address], responseCode: DNSResponseCode, truncated: Bool) {
        self.name = name
        self.chain = chain
        self.addresses = addresses
        self.responseCode = responseCode
        self.truncated = truncated
    }

    /// Reads the answer section of `answer` for the question name `name`.
    ///
    /// Only the answer section counts, and only records owned by a name on the chain that starts
    /// at `name`: an A record for any other name (glue, or an upstream's stray extra) says
    /// nothing about what `name` resolves to, so it must not open an address. The chain is
    /// followed by owner name, not by record order, stops at `maxChainLength` and at a name seen
    /// before (a CNAME loop), and takes the first CNAME when a name has several (a broken zone).
    public init(answer: DNSMessage, for name: DNSName) {
        var cnames: [DNSName: DNSName] = [:]
        for record in answer.answers where record.type == .cname && record.recordClass == .internet {
            if case .name(let target) = record.data, cnames[record.name] == nil { cnames[record.name] = target }
        }
        var chain = [name]
        while chain.count < Self.maxChainLength, let next = cnames[chain[chain.count - 1]], !chain.contains(next) {
            chain.append(next)
        }
        let onChain = Set(chain)
        var addresses: [Address] = []
        for record in answer.answers where record.recordClass == .internet && onChain.contains(record.name) {
            guard record.type == .a || record.type == .aaaa, case .address(let address) = record.data else { continue }
            let ttl = record.ttl > UInt32(Int32.max) ? 0 : record.ttl
            addresses.append(Address(address: address, ttl: ttl, owner: record.name))
        }
        self.init(name: name, chain: chain, addresses: addresses,
                  responseCode: answer.header.responseCode, truncated: answer.header.truncated)
    }

    /// The chain as text for events: `a.example.com -> cdn.example.net`.
    public var chainText: String { chain.map(\.text).joined(separator: " -> ") }
}
