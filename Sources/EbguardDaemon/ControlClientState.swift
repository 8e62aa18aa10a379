import EbguardSystem
import Foundation
import Glibc

/// One connection to the control socket, on the daemon's side.
final class ControlClientState {
    let descriptor: OwnedFileDescriptor
    let peer: PeerCredentials
    var input: [UInt8] = []
    private var output: [UInt8] = []
    private var outputStart = 0
    /// Set once the connection subscribed: it receives matching events from then on.
    var filter: EventFilter?
    /// The session this connection owns (`ebguard run`): it ends when the connection closes.
    var ownedSession: UInt64?
    /// Events not delivered because the subscriber fell behind, not yet reported to it.
    var dropped: UInt64 = 0
    /// Close once the output is written (after an error or a finished reply).
    var closeWhenFlushed = false
    let connectedAt = EventClock.bootNanoseconds()

    init(descriptor: OwnedFileDescriptor, peer: PeerCredentials) {
        self.descriptor = descriptor
        self.peer = peer
    }

    var fd: Int32 { descriptor.rawValue }
    var hasPendingOutput: Bool { outputStart < output.count }
    var pendingBytes: Int { output.count - outputStart }

    func send(_ data: Data) { output.append(contentsOf: data) }
    func send(_ line: String) {
        output.append(contentsOf: line.utf8)
        output.append(UInt8(ascii: "\n"))
    }
    func sendLine(_ line: [UInt8]) {
        output.append(contentsOf: line)
        output.append(UInt8(ascii: "\n"))
    }

    /// Writes what the socket takes now. Returns false when the peer is gone.
    func flush() -> Bool {
        while outputStart < output.count {
            let written = output.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + outputStart, output.count - outputStart, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                return false
            }
            outputStart += written
        }
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.count < 1 << 20)
            outputStart = 0
        } else if outputStart > 1 << 20 {
            output.removeFirst(outputStart)
            outputStart = 0
        }
        return true
    }

    /// A connection that sent half a request and nothing since is dropped after 30 s, so idle
    /// connections cannot hold the daemon's slots.
    func isIdleRequest(now: UInt64) -> Bool {
        filter == nil && ownedSession == nil && now - connectedAt > 30_000_000_000
    }
}
