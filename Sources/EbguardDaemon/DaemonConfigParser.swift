import EbguardAudit
import EbguardDNS
import Yams

/// Walks the composed YAML of `ebguard.yaml` (the keys are documented in packaging/ebguard.yaml).
struct ConfigParser {
    let reader: ConfigReader

    func read(_ root: Node, into config: inout DaemonConfigFile) {
        guard let top = reader.fields(root, "the config file", allowed: ["version", "audit", "resolver"]) else { return }
        if let version = top["version"], reader.integer(version, "version", in: 1...1) == nil { return }
        if let audit = top["audit"] { read(audit: audit, into: &config.audit) }
        if let resolver = top["resolver"] { read(resolver: resolver, into: &config.resolver) }
    }

    private func read(resolver node: Node, into settings: inout ResolverSettings) {
        let keys = ["upstream", "grace_seconds", "max_names", "max_addresses", "queries_per_second"]
        guard let fields = reader.fields(node, "resolver", allowed: keys) else { return }
        if let n = fields["upstream"], let text = reader.string(n, "resolver.upstream") {
            do { settings.upstream = try DNSUpstream(parsing: text) } catch { reader.error(n, "'resolver.upstream': \(error)") }
        }
        if let n = fields["grace_seconds"], let seconds = reader.integer(n, "resolver.grace_seconds", in: 0...86_400) {
            settings.limits.graceSeconds = UInt32(seconds)
        }
        if let n = fields["max_names"], let count = reader.integer(n, "resolver.max_names", in: 1...65_536) {
            settings.limits.names = count
        }
        if let n = fields["max_addresses"], let count = reader.integer(n, "resolver.max_addresses", in: 1...65_536) {
            settings.limits.addresses = count
        }
        if let n = fields["queries_per_second"], let rate = reader.integer(n, "resolver.queries_per_second", in: 1...1_000_000) {
            settings.queriesPerSecond = rate
        }
    }

    private func read(audit node: Node, into settings: inout AuditSettings) {
        let keys = ["path", "max_file_size", "max_files", "flush_interval_ms", "queue_size", "forward_state_dir", "forward"]
        guard let fields = reader.fields(node, "audit", allowed: keys) else { return }
        if let n = fields["path"], let path = reader.string(n, "audit.path") {
            if path.hasPrefix("/") { settings.log.path = path } else { reader.error(n, "'audit.path' must be an absolute path") }
        }
        if let n = fields["max_file_size"], let size = reader.size(n, "audit.max_file_size") { settings.log.maxFileBytes = size }
        if let n = fields["max_files"], let count = reader.integer(n, "audit.max_files", in: 0...1000) {
            settings.log.maxRotatedFiles = count
        }
        if let n = fields["flush_interval_ms"], let ms = reader.integer(n, "audit.flush_interval_ms", in: 1...60_000) {
            settings.log.flushInterval = .milliseconds(ms)
        }
        if let n = fields["queue_size"], let size = reader.integer(n, "audit.queue_size", in: 16...10_000_000) {
            settings.queueCapacity = size
        }
        var stateDirectory = ForwarderConfiguration.defaultStateDirectory
        if let n = fields["forward_state_dir"], let dir = reader.string(n, "audit.forward_state_dir") {
            if dir.hasPrefix("/") { stateDirectory = dir } else { reader.error(n, "'audit.forward_state_dir' must be an absolute path") }
        }
        guard let list = fields["forward"] else { return }
        guard case .sequence(let items) = list else {
            return reader.error(list, "'audit.forward' must be a list of destinations, found \(reader.describe(list))")
        }
        var names: Set<String> = []
        for item in items {
            guard var forwarder = destination(item) else { continue }
            forwarder.stateDirectory = stateDirectory
            // The name names the state file: two destinations sharing one would skip each other's records.
            guard names.insert(forwarder.name).inserted else {
                reader.error(item, "two destinations are named '\(forwarder.name)' (each needs its own state file)")
                continue
            }
            settings.forwarders.append(forwarder)
        }
    }

    private func destination(_ node: Node) -> ForwarderConfiguration? {
        let keys = ["name", "syslog", "otlp", "batch_size"]
        guard let fields = reader.fields(node, "a forward destination", allowed: keys) else { return nil }
        guard let nameNode = fields["name"] else {
            reader.error(node, "a forward destination needs a 'name' (it names its state file)")
            return nil
        }
        guard let name = reader.string(nameNode, "name") else { return nil }
        guard name.utf8.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
              !name.hasPrefix(".") else {
            reader.error(nameNode, "destination name '\(name)' must be 1-64 letters, digits, '-', '_' or '.'")
            return nil
        }
        let kind: Destination?
        switch (fields["syslog"], fields["otlp"]) {
        case (let s?, nil): kind = syslog(s)
        case (nil, let o?): kind = otlp(o)
        case (.some, .some):
            reader.error(node, "destination '\(name)' has both 'syslog' and 'otlp'; give one per destination")
            return nil
        case (nil, nil):
            reader.error(node, "destination '\(name)' needs 'syslog' or 'otlp'")
            return nil
        }
        guard let kind else { return nil }
        var configuration = ForwarderConfiguration(name: name, destination: kind)
        if let n = fields["batch_size"], let size = reader.integer(n, "batch_size", in: 1...10_000) {
            configuration.batchSize = size
        }
        return configuration
    }

    private typealias Destination = ForwarderConfiguration.Destination

    private func syslog(_ node: Node) -> Destination? {
        let keys = ["host", "port", "facility", "settle_ms", "tls"]
        guard let fields = reader.fields(node, "syslog", allowed: keys) else { return nil }
        guard let hostNode = fields["host"] else {
            reader.error(node, "syslog needs a 'host'")
            return nil
        }
        guard let host = reader.string(hostNode, "syslog.host") else { return nil }
        var destination = SyslogDestination(host: host)
        var ok = true
        if let n = fields["port"] { if let p = reader.integer(n, "syslog.port", in: 1...65535) { destination.port = p } else { ok = false } }
        if let n = fields["facility"] {
            if let f = reader.integer(n, "syslog.facility", in: 0...23) { destination.facility = f } else { ok = false }
        }
        if let n = fields["settle_ms"] {
            if let ms = reader.integer(n, "syslog.settle_ms", in: 0...600_000) { destination.settle = .milliseconds(ms) } else { ok = false }
        }
        if let n = fields["tls"] { if let t = tls(n) { destination.tls = t } else { ok = false } }
        return ok ? .syslog(destination) : nil
    }

    private func otlp(_ node: Node) -> Destination? {
        guard let fields = reader.fields(node, "otlp", allowed: ["url", "headers", "timeout_ms", "tls"]) else { return nil }
        guard let urlNode = fields["url"] else {
            reader.error(node, "otlp needs a 'url' (e.g. http://127.0.0.1:4318/v1/logs)")
            return nil
        }
        guard let url = reader.string(urlNode, "otlp.url") else { return nil }
        var ok = true
        var tls: ForwarderTLS?
        if let n = fields["tls"] { tls = self.tls(n); ok = ok && tls != nil }
        var headers: [String: String] = [:]
        if let n = fields["headers"] {
            if case .mapping(let mapping) = n {
                for (key, value) in mapping {
                    guard let k = reader.string(key, "header name"), let v = reader.string(value, "header \(key.string ?? "")") else {
                        ok = false
                        continue
                    }
                    headers[k] = v
                }
            } else {
                reader.error(n, "'otlp.headers' must be a mapping of header names to values, found \(reader.describe(n))")
                ok = false
            }
        }
        guard var destination = OTLPDestination(url: url, tls: tls, headers: headers) else {
            reader.error(urlNode, "'\(url)' is not an http:// or https:// URL with a host (and a port from 1 to 65535)")
            return nil
        }
        if let n = fields["timeout_ms"] {
            if let ms = reader.integer(n, "otlp.timeout_ms", in: 1...600_000) { destination.timeout = .milliseconds(ms) } else { ok = false }
        }
        return ok ? .otlp(destination) : nil
    }

    private func tls(_ node: Node) -> ForwarderTLS? {
        let keys = ["ca_file", "cert_file", "key_file", "server_name"]
        guard let fields = reader.fields(node, "tls", allowed: keys) else { return nil }
        var tls = ForwarderTLS()
        var ok = true
        func path(_ key: String) -> String? {
            guard let n = fields[key] else { return nil }
            guard let value = reader.string(n, "tls.\(key)") else { ok = false; return nil }
            return value
        }
        tls.caFile = path("ca_file")
        tls.certificateFile = path("cert_file")
        tls.keyFile = path("key_file")
        tls.serverName = path("server_name")
        if (tls.certificateFile == nil) != (tls.keyFile == nil) {
            reader.error(node, "'tls' needs both 'cert_file' and 'key_file' for a client certificate, or neither")
            ok = false
        }
        return ok ? tls : nil
    }
}
