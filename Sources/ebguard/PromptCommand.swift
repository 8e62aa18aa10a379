import ArgumentParser
import EbguardDaemon
import Foundation
import Glibc

/// `ebguard prompt`: a terminal UI that shows requests as they arrive and answers them with
/// one key. Polls the daemon (a few requests a minute at most), so it needs no state of its own.
struct PromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompt",
        abstract: "Answer pending decisions interactively.",
        discussion: """
        Keys: a allow once, s allow for the session, A allow always, d deny, D deny always, \
        j/k or arrows to choose, q to quit. Rings the bell when a request arrives; with a desktop \
        (DISPLAY or WAYLAND_DISPLAY and notify-send), also shows a notification with Allow/Deny.
        """
    )

    @OptionGroup var connection: DaemonConnectionOptions

    func run() throws {
        guard isatty(STDIN_FILENO) == 1 else { fail("ebguard prompt needs a terminal; use ebguard pending / allow / deny in scripts") }
        let terminal = RawTerminal()
        defer { terminal.restore() }
        var selected = 0
        var seen = Set<Int>()
        var status = "waiting for requests"
        let notifier = DesktopNotifier(socket: connection.socket)
        while true {
            let pending: [PendingRequest]
            do { pending = try connection.connect().send(.pending, expecting: [PendingRequest].self) } catch {
                terminal.restore()
                fail(error.description)
            }
            let fresh = pending.filter { !seen.contains($0.id) }
            if !fresh.isEmpty {
                FileHandle.standardOutput.write(Data("\u{7}".utf8))
                for request in fresh { notifier?.announce(request) }
            }
            seen.formUnion(pending.map(\.id))
            selected = min(selected, max(0, pending.count - 1))
            draw(pending, selected: selected, status: status)
            guard let key = terminal.readKey(timeoutMilliseconds: 300) else { continue }
            switch key {
            case "q", "\u{3}": return
            case "j", "\u{1B}[B": selected = min(selected + 1, max(0, pending.count - 1))
            case "k", "\u{1B}[A": selected = max(selected - 1, 0)
            case "a", "s", "A", "d", "D":
                guard pending.indices.contains(selected) else { continue }
                let request = pending[selected]
                let allow = key == "a" || key == "s" || key == "A"
                let scope: AnswerScope = key == "s" ? .session : (key == "A" || key == "D") ? .always : .once
                do {
                    _ = try connection.connect().send(.answer(AnswerRequest(id: request.id, allow: allow, scope: scope)),
                                                      expecting: PendingRequest.self)
                    status = "#\(request.id) \(allow ? "allowed" : "denied") (\(scope.rawValue)): \(request.summary)"
                } catch {
                    status = "#\(request.id): \(error.message)"
                }
            default: continue
            }
        }
    }

    private func draw(_ pending: [PendingRequest], selected: Int, status: String) {
        var screen = "\u{1B}[H\u{1B}[2J"
        screen += "ebguard prompt: \(pending.count) pending   [a] allow once  [s] allow session  [A] allow always  "
            + "[d] deny  [D] deny always  [q] quit\r\n\r\n"
        for (index, request) in pending.enumerated() {
            let marker = index == selected ? ">" : " "
            let hits = request.hits > 1 ? " (x\(request.hits))" : ""
            screen += "\(marker) #\(request.id)  \(request.session)  pid \(request.pid)  \(request.summary)\(hits)\r\n"
        }
        if pending.indices.contains(selected) {
            let request = pending[selected]
            screen += "\r\n#\(request.id) in session \(request.session)\r\n"
            screen += "  rule:     \([request.rule, request.ruleLocation].compactMap { $0 }.joined(separator: " at "))\r\n"
            if let cwd = request.cwd { screen += "  cwd:      \(cwd)\r\n" }
            screen += "  expires:  \(request.expires), then \(request.onTimeout)\r\n  process tree:\r\n"
            for (depth, node) in request.tree.enumerated() {
                let command = node.argv.map { $0.joined(separator: " ") } ?? node.comm
                screen += "    " + String(repeating: "  ", count: depth) + "\(node.pid) \(command.prefix(100))\r\n"
            }
        }
        screen += "\r\n\(status)\r\n"
        FileHandle.standardOutput.write(Data(screen.utf8))
    }
}

/// The terminal in raw mode (no echo, no line buffering) until `restore`.
final class RawTerminal {
    private var original = termios()
    private var active = false

    init() {
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        active = true
        FileHandle.standardOutput.write(Data("\u{1B}[?25l".utf8))
    }

    func restore() {
        guard active else { return }
        active = false
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
        FileHandle.standardOutput.write(Data("\u{1B}[?25h\r\n".utf8))
    }

    /// One key (escape sequences whole), or nil after the timeout.
    func readKey(timeoutMilliseconds: Int32) -> String? {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 8)
        let count = read(STDIN_FILENO, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

/// Desktop notifications with Allow/Deny actions through notify-send, when there is a desktop.
/// Absent one (no DISPLAY/WAYLAND_DISPLAY, or no notify-send), nothing happens.
struct DesktopNotifier {
    let socket: String
    let notifySend: String

    init?(socket: String) {
        let environment = ProcessInfo.processInfo.environment
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil,
              let found = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
                .map({ String($0) + "/notify-send" }).first(where: { access($0, X_OK) == 0 }) else { return nil }
        self.socket = socket
        notifySend = String(found)
    }

    /// Shows the request; the action clicked (if any) answers it once.
    func announce(_ request: PendingRequest) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: notifySend)
        process.arguments = ["--app-name=ebguard", "--urgency=critical", "--wait", "--action=allow=Allow once",
                             "--action=deny=Deny", "ebguard: approval #\(request.id)", "\(request.session): \(request.summary)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let socket = self.socket
        let id = request.id
        process.terminationHandler = { _ in
            let choice = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard choice == "allow" || choice == "deny" else { return }
            _ = try? ControlClient(path: socket).send(.answer(AnswerRequest(id: id, allow: choice == "allow", scope: .once)),
                                                      expecting: PendingRequest.self)
        }
        try? process.run()
    }
}
