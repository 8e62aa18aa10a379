/// ebguard's version, written in this one place: the daemon's `daemon_start`/`daemon_stop`
/// records, OCSF `metadata.product.version`, the OTLP `service.version` and scope version, and
/// the forwarders' User-Agent all read it. A module of its own with no dependencies, so that
/// every other module (and a packaging script, with sed) can reach it.
public enum EbguardVersion {
    public static let string = "0.2.0"
}
