import EbguardEnforcement
import EbguardPolicy
import EbguardSystem
import Glibc

/// Runs the governed command to its end: forwards signals, and reads `ring` (standalone
/// sessions) while it runs.
struct GovernedCommand {
    let cgroup: Cgroup
    let ring: EventReader?

    /// Signals passed on to the command. Terminal-generated ones (Ctrl-C) already reach it directly.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD]

    /// Returns the shell exit code: the command's, 126/127 when it could not start.
    func run(_ request: SpawnRequest) -> Int32 {
        let signals: SignalPipe
        do { signals = try SignalPipe(signals: Self.forwarded) } catch { fail("\(error)") }
        var request = request
        do {
            request.executable = try SpawnRequest.resolve(request.executable, path: request.environment["PATH"])
        } catch {
            warn("\(request.executable): command not found")
            return 127
        }
        let child: pid_t
        do {
            child = try cgroup.spawn(request)
        } catch let error as SystemError {
            warn("\(error)")
            return error.errno == .noSuchFileOrDirectory ? 127 : 126
        } catch {
            warn("\(error)")
            return 126
        }

        var fds = [pollfd(fd: signals.readFD, events: Int16(POLLIN), revents: 0)]
        if let ring { fds.append(pollfd(fd: ring.pollFD, events: Int16(POLLIN), revents: 0)) }
        while true {
            _ = poll(&fds, nfds_t(fds.count), 200)
            _ = try? ring?.consume()
            for note in signals.drain() where note.signal != SIGCHLD {
                // Ctrl-C from the terminal hits the whole foreground group, the command included.
                if note.fromProcess || (note.signal != SIGINT && note.signal != SIGQUIT) { kill(child, note.signal) }
            }
            var status: Int32 = 0
            let reaped = waitpid(child, &status, WNOHANG)
            if reaped == child {
                _ = try? ring?.consume()
                return ExitStatus(waitStatus: status).shellCode
            }
            if reaped < 0 && errno != EINTR { return 125 }
        }
    }
}
