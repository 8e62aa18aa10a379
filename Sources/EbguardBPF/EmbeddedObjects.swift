import CEbguardObjects

/// The BPF objects `make` compiled from `bpf/*.bpf.c` and linked into this binary.
public enum EmbeddedObjects {
    /// Names of the embedded objects (file stems: "doctor" for bpf/doctor.bpf.c).
    public static var names: [String] {
        (0..<eg_embedded_object_count).map { String(cString: entry(at: $0).name) }
    }

    /// The bytes of one embedded object; they live as long as the process.
    public static func bytes(named name: String) -> UnsafeRawBufferPointer? {
        for index in 0..<eg_embedded_object_count {
            let object = entry(at: index)
            if String(cString: object.name) == name {
                return UnsafeRawBufferPointer(start: object.bytes, count: object.size)
            }
        }
        return nil
    }

    /// Identifies this build's BPF objects (FNV-1a over all their bytes): programs and maps of
    /// another build are never mixed with these.
    public static var generation: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for name in names.sorted() {
            for byte in bytes(named: name)! {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }

    private static func entry(at index: Int) -> eg_embedded_object {
        eg_embedded_object_at(index).pointee
    }
}
