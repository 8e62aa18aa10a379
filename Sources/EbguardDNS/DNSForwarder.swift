import EbguardSystem
import Glibc

/// Asks the upstream one question, as a stub resolver would, and checks the answer belongs to it.
///
/// Spoofing defences (RFC 5452): every attempt uses a fresh socket (so a fresh random source
/// port from the kernel) and a fresh random id; the UDP socket is connected, so the kernel drops
/// datagrams from any other address; an answer counts only if it is a response with the id and
/// the question we sent. Anything else is ignored until the attempt's deadline.
struct DNSForwarder: Sendable {
    let upstream: DNSUpstream
    let timeoutMs: Int
    let attempts: Int

    struct Answer: Sendable {
        let bytes: [UInt8]
        let message: DNSMessage
    }

    /// Largest EDNS UDP payload passed on; beyond 4096 fragmentation makes answers unreliable.
    static let maxUDPPayload: UInt16 = 4096

    /// The query that leaves the host: the client's question (its letter case too, so the answer
    /// echoes it), its RD/CD/AD bits, and EDNS only as the client's buffer size and DO bit.
    /// EDNS options (client subnet, cookies, padding) and any other record the client added are
    /// not copied: the only thing a session gets to say to the outside world is the name.
    static func upstreamQuery(for query: DNSMessage, id: UInt16) -> DNSMessage {
        var header = DNSHeader(id: id)
        header.recursionDesired = query.header.recursionDesired
        header.checkingDisabled = query.header.checkingDisabled
        header.authenticData = query.header.authenticData
        var message = DNSMessage(header: header, questions: query.questions)
        if let opt = query.opt {
            let size = min(max(opt.recordClass.rawValue, 512), maxUDPPayload)
            message.additionals = [DNSRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: size),
                                             ttl: opt.ttl & 0x0000_8000, data: .opaque([]))]
        }
        return message
    }

    func forward(_ query: DNSMessage, over transport: DNSTransport) -> Result<Answer, DNSForwardError> {
        var last = DNSForwardError.timedOut
        for _ in 0..<max(1, attempts) {
            let id = UInt16.random(in: 0...UInt16.max)
            let outgoing = Self.upstreamQuery(for: query, id: id)
            guard let bytes = try? outgoing.encoded() else { return .failure(.unencodable) }
            let deadline = monotonicMilliseconds() + UInt64(timeoutMs)
            let result = transport == .udp ? viaUDP(bytes, expecting: outgoing, deadline: deadline)
                                           : viaTCP(bytes, expecting: outgoing, deadline: deadline)
            switch result {
            case .success: return result
            case .failure(let error): last = error
            }
        }
        return .failure(last)
    }

    private func viaUDP(_ bytes: [UInt8], expecting sent: DNSMessage, deadline: UInt64) -> Result<Answer, DNSForwardError> {
        let socket: DNSSocket
        do throws(SystemError) {
            socket = try DNSSocket.udp(upstream.address.family)
            try socket.connect(to: upstream.endpoint, timeoutMs: timeoutMs)
        } catch { return .failure(.socket(error)) }
        guard socket.send(bytes, to: upstream.endpoint) else { return .failure(.socket(SystemError.current("sending to \(upstream)"))) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while socket.wait(for: Int16(POLLIN), deadline: deadline) == .ready {
            let n = buffer.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                // ECONNREFUSED: an ICMP port unreachable, nobody listens there.
                return .failure(.socket(SystemError.current("receiving from \(upstream)")))
            }
            let answer = Array(buffer[0..<n])
            if let message = Self.matching(answer, sent) { return .success(Answer(bytes: answer, message: message)) }
        }
        return .failure(.timedOut)
    }

    private func viaTCP(_ bytes: [UInt8], expecting sent: DNSMessage, deadline: UInt64) -> Result<Answer, DNSForwardError> {
        let socket: DNSSocket
        do throws(SystemError) {
            socket = try DNSSocket.tcp(upstream.address.family)
            try socket.connect(to: upstream.endpoint, timeoutMs: timeoutMs)
        } catch { return .failure(.socket(error)) }
        let framed = [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        guard socket.sendAll(framed, deadline: deadline),
              let prefix = socket.receive(exactly: 2, deadline: deadline) else { return .failure(.timedOut) }
        let length = Int(prefix[0]) << 8 | Int(prefix[1])
        guard let answer = socket.receive(exactly: length, deadline: deadline) else { return .failure(.timedOut) }
        guard let message = Self.matching(answer, sent) else { return .failure(.mismatched) }
        return .success(Answer(bytes: answer, message: message))
    }

    /// The parsed answer if it is a well-formed response to exactly `sent`.
    static func matching(_ bytes: [UInt8], _ sent: DNSMessage) -> DNSMessage? {
        guard let message = try? DNSMessage(parsing: bytes), message.header.isResponse,
              message.header.id == sent.header.id, message.header.opcode == 0,
              message.questions == sent.questions else { return nil }
        return message
    }
}

enum DNSForwardError: Error, Sendable, CustomStringConvertible {
    case timedOut
    case mismatched
    case unencodable
    case socket(SystemError)

    var description: String {
        switch self {
        case .timedOut: "no matching answer in time"
        case .mismatched: "the answer did not match the question"
        case .unencodable: "the query could not be encoded"
        case .socket(let error): error.description
        }
    }
}
