/// What happens to one message from a client, shared by the UDP and TCP paths: a cheap
/// `screen` on the listener thread, then the slow `answer` (decide, forward, admit) on a worker.
final class DNSQueryProcessor: Sendable {
    let delegate: DNSResolverDelegate
    let limits: DNSLimits
    let forwarder: DNSForwarder
    let bucket: TokenBucket
    let inFlight: Slots

    init(upstream: DNSUpstream, limits: DNSLimits, delegate: DNSResolverDelegate) {
        self.delegate = delegate
        self.limits = limits
        forwarder = DNSForwarder(upstream: upstream, timeoutMs: limits.upstreamTimeout.milliseconds,
                                 attempts: limits.upstreamAttempts)
        bucket = TokenBucket(rate: limits.queriesPerSecond, burst: limits.burst)
        inFlight = Slots(limit: limits.maxInFlight)
    }

    enum Screened {
        /// Answer at once with these bytes.
        case reply([UInt8])
        /// Say nothing.
        case drop
        /// A query to decide; it holds an in-flight slot that `answer` gives back.
        case process(DNSMessage, DNSQuery)
    }

    /// Query types no stub resolver sends: zone transfers (multi-message answers over TCP, and
    /// a whole zone's worth of names), OPT as a question, and the obsolete MAILA/MAILB.
    private static let refusedTypes: Set<UInt16> = [DNSType.opt.rawValue, DNSType.ixfr.rawValue, DNSType.axfr.rawValue, 253, 254]

    func screen(_ bytes: [UInt8], from client: DNSEndpoint, over transport: DNSTransport) -> Screened {
        guard bytes.count <= limits.maxQuerySize else { return drop(.oversized(bytes.count), client) }
        let message: DNSMessage
        do throws(DNSParseError) { message = try DNSMessage(parsing: bytes) } catch {
            guard let reply = DNSMessage.formatErrorReply(toUnparsed: bytes) else {
                let isResponse = bytes.count >= 3 && bytes[2] & 0x80 != 0
                return drop(isResponse ? .response : .malformed(error.description), client)
            }
            delegate.dropped(DNSDrop(reason: .malformed(error.description), client: client, query: nil))
            return .reply(reply)
        }
        guard !message.header.isResponse else { return drop(.response, client) }
        guard message.header.opcode == 0 else {
            return refuse(message, .notImplemented, .unsupported("opcode \(message.header.opcode)"), client, nil)
        }
        guard message.questions.count == 1, let question = message.questions.first else {
            return refuse(message, .formatError, .unsupported("\(message.questions.count) questions"), client, nil)
        }
        let query = DNSQuery(question: question, transport: transport, client: client, id: message.header.id)
        guard question.recordClass == .internet, !Self.refusedTypes.contains(question.type.rawValue) else {
            return refuse(message, .refused, .unsupported("\(question.recordClass) \(question.type)"), client, query)
        }
        guard bucket.take() else { return refuse(message, .refused, .rateLimited, client, query) }
        guard inFlight.acquire() else { return refuse(message, .refused, .tooManyInFlight, client, query) }
        return .process(message, query)
    }

    /// Decides, forwards and admits; the reply for the client (nil: none can be built). Gives the
    /// in-flight slot back.
    func answer(_ message: DNSMessage, _ query: DNSQuery) -> [UInt8]? {
        defer { inFlight.release() }
        switch delegate.decide(query) {
        case .nxdomain: return try? DNSMessage.nxdomain(for: message).encoded()
        case .refused: return try? DNSMessage.refused(for: message).encoded()
        case .forward: break
        }
        switch forwarder.forward(message, over: query.transport) {
        case .failure(let error):
            delegate.dropped(DNSDrop(reason: .upstreamFailed(error.description), client: query.client, query: query))
            return try? DNSMessage.serverFailure(for: message).encoded()
        case .success(let answer):
            let resolution = DNSResolution(answer: answer.message, for: query.question.name)
            guard delegate.admit(query, resolution) else {
                delegate.dropped(DNSDrop(reason: .notAdmitted, client: query.client, query: query))
                return try? DNSMessage.serverFailure(for: message).encoded()
            }
            return DNSMessage.replacingID(in: answer.bytes, with: message.header.id)
        }
    }

    private func drop(_ reason: DNSDropReason, _ client: DNSEndpoint) -> Screened {
        delegate.dropped(DNSDrop(reason: reason, client: client, query: nil))
        return .drop
    }

    private func refuse(_ message: DNSMessage, _ code: DNSResponseCode, _ reason: DNSDropReason,
                        _ client: DNSEndpoint, _ query: DNSQuery?) -> Screened {
        delegate.dropped(DNSDrop(reason: reason, client: client, query: query))
        guard let bytes = try? DNSMessage.reply(to: message, code: code).encoded() else { return .drop }
        return .reply(bytes)
    }
}
