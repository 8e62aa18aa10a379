import Testing

/// Every suite that starts a daemon, run one test at a time: each daemon reads the host's
/// shared event ring, so two at once would take each other's events.
@Suite(.serialized) struct DaemonVMSuites {}
