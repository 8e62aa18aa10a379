import EbguardSystem
import SystemPackage
import Foundation
import Glibc

/// The command-line side of the control socket.
public final class ControlClient {
    private let socket: OwnedFileDescriptor
    private let reader: LineReader

    public var fd: Int32 { socket.rawValue }

    /// Connects, or explains that no daemon is listening and how to start one.
    public init(path: String = ControlProtocol.defaultSocketPath) throws(ControlError) {
        do {
            socket = try UnixSocket.connect(to: path)
        } catch {
            let why = (error as? SystemError)?.errno == .permissionDenied
                ? "permission denied on \(path) (root or group ebguard only)"
                : "no ebguard daemon is listening on \(path)"
            throw ControlError("no-daemon", "\(why); start one with `sudo ebguard daemon` "
                               + "(or `sudo systemctl start ebguard` where the unit is installed)")
        }
        reader = LineReader(fd: socket.rawValue)
    }

    public static func daemonIsListening(path: String = ControlProtocol.defaultSocketPath) -> Bool {
        (try? UnixSocket.connect(to: path)) != nil
    }

    private struct Envelope<Result: Decodable>: Decodable {
        var ok: Bool
        var result: Result?
        var error: ControlError?
    }

    /// Sends `request` and decodes the daemon's answer as `Result`.
    public func send<Result: Decodable>(_ request: ControlRequest, expecting: Result.Type) throws(ControlError) -> Result {
        // A refused peer gets its reason before the daemon hangs up: read it even if the write failed.
        try? writeAll(socket.rawValue, request.encoded() + Data("\n".utf8))
        guard let line = try? reader.next() else {
            throw ControlError("disconnected", "the daemon closed the connection without answering")
        }
        let envelope: Envelope<Result>
        do { envelope = try JSONDecoder().decode(Envelope<Result>.self, from: Data(line)) } catch {
            throw ControlError("protocol", "unreadable answer from the daemon: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        if let error = envelope.error { throw error }
        guard envelope.ok, let result = envelope.result else { throw ControlError("protocol", "the daemon answered without a result") }
        return result
    }

    private static let eventPrefix = Array("{\"schema_version\":".utf8)
    private let decoder = JSONDecoder()

    /// The next stream line as the daemon sent it (`-o json` passes events through as they
    /// are); nil when the daemon went away.
    public func nextLine() -> [UInt8]? { try? reader.next() }

    /// Whether `nextLine()` can answer without waiting.
    public var hasBufferedLine: Bool { reader.hasBufferedLine }

    /// Whether a raw line is an event.
    public static func isEvent(_ line: [UInt8]) -> Bool { line.starts(with: eventPrefix) }

    public enum StreamItem: Sendable {
        case event(GovernedEvent, line: String)
        case notice(String)
        case end
    }

    /// The next item of a stream (after `subscribe`, `register` or `attach`); nil when the
    /// daemon went away.
    public func next() -> StreamItem? {
        while true {
            guard let line = try? reader.next() else { return nil }
            // Events are most of a stream: recognized by their first key, decoded once.
            if line.starts(with: Self.eventPrefix) {
                guard let event = try? decoder.decode(GovernedEvent.self, from: Data(line)) else { continue }
                return .event(event, line: String(decoding: line, as: UTF8.self))
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { continue }
            if let notice = object["notice"] as? String { return .notice(notice) }
            if object["end"] as? Bool == true { return .end }
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return .notice(message) }
        }
    }
}
