/// How a query reached the resolver; an upstream is asked over the same transport.
public enum DNSTransport: String, Sendable, Equatable {
    case udp, tcp
}

/// One well-formed query from a client: exactly one question, opcode QUERY, class IN.
public struct DNSQuery: Sendable, Equatable {
    public let question: DNSQuestion
    public let transport: DNSTransport
    public let client: DNSEndpoint
    /// The client's message id (the upstream sees a fresh random one).
    public let id: UInt16

    public init(question: DNSQuestion, transport: DNSTransport, client: DNSEndpoint, id: UInt16) {
        self.question = question
        self.transport = transport
        self.client = client
        self.id = id
    }

    /// Canonical text of the question's name (lowercase, no trailing dot, escaped).
    public var name: String { question.name.text }
    public var type: DNSType { question.type }
}

/// What to do with a query.
public enum DNSDecision: Sendable, Equatable {
    /// Ask the upstream, then `admit` the answer before the client sees it.
    case forward
    /// Answer NXDOMAIN: the name does not exist for this session.
    case nxdomain
    /// Answer REFUSED: the resolver will not answer this question (e.g. TXT for an unknown name).
    case refused
}

/// Why the resolver answered on its own (or not at all) instead of following `decide`.
public enum DNSDropReason: Sendable, Equatable, CustomStringConvertible {
    /// The bytes were not a DNS message (answered FORMERR when the header was readable).
    case malformed(String)
    /// QR set: someone sent the resolver a response. Dropped silently.
    case response
    /// QDCOUNT other than 1 (FORMERR), an opcode other than QUERY (NOTIMP), or a class other
    /// than IN or a zone transfer (REFUSED): nothing a stub resolver sends.
    case unsupported(String)
    /// Over `DNSLimits.maxQuerySize`; dropped unread.
    case oversized(Int)
    /// Over the token bucket: REFUSED.
    case rateLimited
    /// `DNSLimits.maxInFlight` queries already waiting: REFUSED.
    case tooManyInFlight
    /// `DNSLimits.maxTCPConnections` already open: the new connection is closed.
    case tooManyConnections
    /// The upstream did not answer usefully in time (or its answer was malformed): SERVFAIL.
    case upstreamFailed(String)
    /// `admit` returned false: SERVFAIL.
    case notAdmitted

    public var description: String {
        switch self {
        case .malformed(let why): "malformed message: \(why)"
        case .response: "a response sent to the resolver"
        case .unsupported(let what): "unsupported query: \(what)"
        case .oversized(let n): "query of \(n) bytes over the size limit"
        case .rateLimited: "query rate limit"
        case .tooManyInFlight: "too many queries in flight"
        case .tooManyConnections: "too many TCP connections"
        case .upstreamFailed(let why): "upstream failed: \(why)"
        case .notAdmitted: "answer not admitted"
        }
    }
}

/// A message the resolver did not pass to `decide`/`admit` as usual.
public struct DNSDrop: Sendable, Equatable {
    public let reason: DNSDropReason
    public let client: DNSEndpoint
    /// The query, when it parsed that far.
    public let query: DNSQuery?

    public init(reason: DNSDropReason, client: DNSEndpoint, query: DNSQuery?) {
        self.reason = reason
        self.client = client
        self.query = query
    }
}

/// The policy side of the resolver (the session's code), as three closures.
///
/// `decide` and `admit` are called on the resolver's worker threads (one per query in flight),
/// never on a listener thread, and concurrently for different queries.
/// - `decide` may block as long as it likes (a human answering an ask); the query holds one of
///   `DNSLimits.maxInFlight` slots meanwhile. If the client gave up, the answer is still acted
///   on (forwarded and admitted), so the client's retry finds the address allowed.
/// - `admit` runs after the upstream answered and before the client gets the answer: it is where
///   the addresses enter the kernel's allow map. Returning false turns the answer into SERVFAIL.
///   It is called for every forwarded answer, including NXDOMAIN and empty ones.
/// - `dropped` reports what the limits and the parser threw away; it may run on a listener
///   thread, once per packet of a flood, so it must return quickly (count, don't block).
public struct DNSResolverDelegate: Sendable {
    public var decide: @Sendable (DNSQuery) -> DNSDecision
    public var admit: @Sendable (DNSQuery, DNSResolution) -> Bool
    public var dropped: @Sendable (DNSDrop) -> Void

    public init(decide: @escaping @Sendable (DNSQuery) -> DNSDecision,
                admit: @escaping @Sendable (DNSQuery, DNSResolution) -> Bool,
                dropped: @escaping @Sendable (DNSDrop) -> Void = { _ in }) {
        self.decide = decide
        self.admit = admit
        self.dropped = dropped
    }
}
