import CLibBPF
import EbguardSystem
import Glibc

/// Consumes a `BPF_MAP_TYPE_RINGBUF` map: each record is handed to `handler` as raw bytes
/// that are valid only during the call (decode them, don't keep them).
public final class RingBuffer {
    /// Boxed so the C callback, which cannot capture, can reach the Swift closure.
    private final class Handler {
        let body: (UnsafeRawBufferPointer) -> Void
        init(_ body: @escaping (UnsafeRawBufferPointer) -> Void) { self.body = body }
    }

    private let handle: OpaquePointer
    private let handler: Unmanaged<Handler>
    /// Keeps the map's owner alive while the kernel writes into it.
    private let owner: AnyObject

    /// Reads the ring-buffer map `map` of a loaded object.
    public convenience init(_ map: BPFMapDefinition, handler: @escaping (UnsafeRawBufferPointer) -> Void) throws {
        guard map.isRingBuffer else {
            throw BPFError("reading ring buffer \(map.name)", reason: "map \(map.name) is not a ring buffer")
        }
        guard map.fd >= 0 else { throw BPFError("reading ring buffer \(map.name)", reason: "the object is not loaded yet") }
        try self.init(fd: map.fd, name: map.name, owner: map.object, handler: handler)
    }

    /// Reads a ring buffer pinned at `path`.
    public convenience init(pinnedAt path: String, handler: @escaping (UnsafeRawBufferPointer) -> Void) throws {
        let descriptor = try OwnedFileDescriptor.pinnedBPFObject(at: path)
        try self.init(fd: descriptor.rawValue, name: path, owner: descriptor, handler: handler)
    }

    private init(fd: Int32, name: String, owner: AnyObject, handler body: @escaping (UnsafeRawBufferPointer) -> Void) throws {
        let handler = Unmanaged.passRetained(Handler(body))
        let callback: ring_buffer_sample_fn = { context, data, size in
            let handler = Unmanaged<Handler>.fromOpaque(context!).takeUnretainedValue()
            handler.body(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
        LibBPFLog.reset()
        guard let ring = ring_buffer__new(fd, callback, handler.toOpaque(), nil) else {
            handler.release()
            throw BPFError.libbpf("opening ring buffer \(name)")
        }
        self.handle = ring
        self.handler = handler
        self.owner = owner
    }

    deinit {
        ring_buffer__free(handle)
        handler.release()
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for records and handles them.
    /// Returns how many were handled; an interrupted wait returns 0.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32) throws -> Int {
        let result = ring_buffer__poll(handle, timeoutMilliseconds)
        if result == -EINTR { return 0 }
        guard result >= 0 else { throw BPFError.libbpf("polling ring buffer", code: result) }
        return Int(result)
    }

    /// Handles every record available now, without waiting.
    @discardableResult
    public func consume() throws -> Int {
        let result = ring_buffer__consume(handle)
        guard result >= 0 else { throw BPFError.libbpf("consuming ring buffer", code: result) }
        return Int(result)
    }

    /// An epoll descriptor that becomes readable when records arrive (for event loops).
    public var epollFD: Int32 { ring_buffer__epoll_fd(handle) }
}

extension RingBuffer {
    /// Creates a ring-buffer map of `size` bytes (a power of two, at least a page), owned by
    /// the returned descriptor: e.g. a session's own event channel, put into a map of maps.
    public static func createMap(size: UInt32, name: String) throws -> OwnedFileDescriptor {
        LibBPFLog.reset()
        let fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, name, 0, 0, size, nil)
        guard fd >= 0 else { throw BPFError.libbpf("creating ring buffer \(name)", code: fd) }
        return OwnedFileDescriptor(adopting: fd)
    }

    /// Reads the ring-buffer map open at `descriptor` (kept alive by the reader).
    public convenience init(_ descriptor: OwnedFileDescriptor, name: String, handler: @escaping (UnsafeRawBufferPointer) -> Void) throws {
        try self.init(fd: descriptor.rawValue, name: name, owner: descriptor, handler: handler)
    }
}
