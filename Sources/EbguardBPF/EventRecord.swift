public import CEbguardABI

/// Decoding of ring-buffer records laid out by `bpf/ebguard.h`.
public enum EventRecord {
    /// The header every event starts with, or nil when the record is too short to hold one.
    public static func header(of record: UnsafeRawBufferPointer) -> eg_event_header? {
        guard record.count >= MemoryLayout<eg_event_header>.size else { return nil }
        return record.loadUnaligned(as: eg_event_header.self)
    }

    /// The record as `T` when it is at least `T`'s size and its header says the same size,
    /// so a record from a newer or older writer is never misread.
    public static func decode<T: BitwiseCopyable>(_ type: T.Type, from record: UnsafeRawBufferPointer) -> T? {
        guard let header = header(of: record), Int(header.size) == MemoryLayout<T>.size,
              record.count >= MemoryLayout<T>.size else { return nil }
        return record.loadUnaligned(as: T.self)
    }
}

/// Reads a NUL-terminated string out of a fixed C array imported as a tuple (`char comm[16]`).
/// Invalid UTF-8 is repaired, never trusted.
public func string<Tuple>(fromCArray tuple: Tuple, limit: Int? = nil) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix(limit ?? raw.count)
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
