/// Building the answers the resolver gives itself (without asking upstream).
extension DNSMessage {
    /// A response to `query` with no records and `code`: same id, opcode, question and RD; QR and
    /// RA set. Used for NXDOMAIN (a name the policy does not allow), REFUSED (limits) and SERVFAIL.
    public static func reply(to query: DNSMessage, code: DNSResponseCode) -> DNSMessage {
        var header = DNSHeader(id: query.header.id)
        header.isResponse = true
        header.opcode = query.header.opcode
        header.recursionDesired = query.header.recursionDesired
        header.recursionAvailable = true
        header.checkingDisabled = query.header.checkingDisabled
        header.responseCode = code
        return DNSMessage(header: header, questions: query.questions)
    }

    public static func nxdomain(for query: DNSMessage) -> DNSMessage { reply(to: query, code: .nameError) }
    public static func refused(for query: DNSMessage) -> DNSMessage { reply(to: query, code: .refused) }
    public static func serverFailure(for query: DNSMessage) -> DNSMessage { reply(to: query, code: .serverFailure) }

    /// FORMERR for bytes that did not parse but whose header did (RFC 1035 §4.1.1 lets a server say
    /// it could not interpret a query). Nil when there is no header, or when the bytes claim to be
    /// a response: answering a response could bounce packets between two servers forever.
    public static func formatErrorReply(toUnparsed bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= DNSWire.headerSize else { return nil }
        let query = DNSHeader(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), flags: UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
        guard !query.isResponse else { return nil }
        var header = DNSHeader(id: query.id)
        header.isResponse = true
        header.opcode = query.opcode
        header.recursionDesired = query.recursionDesired
        header.recursionAvailable = true
        header.responseCode = .formatError
        return try? DNSMessage(header: header).encoded()
    }

    /// `bytes` (an encoded message) with its id replaced: an upstream answer, which carries the
    /// resolver's own random id, handed back to the client under the client's id. Nothing else
    /// is touched, so the answer reaches the client exactly as the upstream gave it.
    public static func replacingID(in bytes: [UInt8], with id: UInt16) -> [UInt8] {
        guard bytes.count >= 2 else { return bytes }
        var copy = bytes
        copy[0] = UInt8(id >> 8)
        copy[1] = UInt8(id & 0xFF)
        return copy
    }
}
