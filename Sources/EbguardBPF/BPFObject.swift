import CBPFShims
import CLibBPF
import Glibc
import SystemPackage

/// Owns one libbpf `struct bpf_object`: open, configure, load; closed in `deinit`.
///
/// Programs and maps are borrowed from the object and keep it alive while they are used.
/// Configuration (read-only constants, autoload) happens between `init` and `load()`.
public final class BPFObject {
    let handle: OpaquePointer
    /// Bytes handed in by the caller; libbpf reads the ELF from them until `load()`.
    private let ownedBytes: UnsafeMutableRawBufferPointer?
    /// The object's name (the file stem of its source: "doctor").
    public let name: String
    public private(set) var isLoaded = false

    /// Opens an object embedded in this binary by `make` (see `EmbeddedObjects`).
    /// - Parameter pinRoot: where maps declared with `LIBBPF_PIN_BY_NAME` are pinned and re-used.
    public convenience init(embedded name: String, pinRoot: String? = nil) throws {
        guard let bytes = EmbeddedObjects.bytes(named: name) else {
            throw BPFError("opening embedded BPF object \(name)", reason: "no such object in this binary (have: \(EmbeddedObjects.names.joined(separator: ", ")))")
        }
        try self.init(name: name, borrowing: bytes, owned: nil, pinRoot: pinRoot)
    }

    /// Opens an object from bytes (a copy is kept for as long as libbpf needs it).
    public convenience init(bytes: some Collection<UInt8>, name: String, pinRoot: String? = nil) throws {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        copy.copyBytes(from: bytes)
        do {
            try self.init(name: name, borrowing: UnsafeRawBufferPointer(rebasing: copy[..<bytes.count]), owned: copy, pinRoot: pinRoot)
        } catch {
            copy.deallocate()
            throw error
        }
    }

    private init(name: String, borrowing bytes: UnsafeRawBufferPointer, owned: UnsafeMutableRawBufferPointer?, pinRoot: String?) throws {
        LibBPFLog.reset()
        guard let object = eg_object_open_mem(bytes.baseAddress, bytes.count, name, pinRoot) else {
            throw BPFError.libbpf("opening BPF object \(name)")
        }
        self.handle = object
        self.ownedBytes = owned
        self.name = name
    }

    deinit {
        bpf_object__close(handle)
        ownedBytes?.deallocate()
    }

    /// Every program in the object, in ELF order.
    public var programs: [BPFProgram] {
        var result: [BPFProgram] = []
        var cursor = bpf_object__next_program(handle, nil)
        while let program = cursor {
            result.append(BPFProgram(object: self, handle: program))
            cursor = bpf_object__next_program(handle, program)
        }
        return result
    }

    /// The program whose C function is called `name`.
    public func program(_ name: String) throws -> BPFProgram {
        guard let program = bpf_object__find_program_by_name(handle, name) else {
            throw BPFError("finding program \(name) in \(self.name)", errno: .noSuchFileOrDirectory,
                           reason: "no program named \(name) (have: \(programs.map(\.name).joined(separator: ", ")))")
        }
        return BPFProgram(object: self, handle: program)
    }

    /// The map called `name`, untyped.
    public func map(_ name: String) throws -> BPFMapDefinition {
        guard let map = bpf_object__find_map_by_name(handle, name) else {
            throw BPFError("finding map \(name) in \(self.name)", errno: .noSuchFileOrDirectory, reason: "no map named \(name)")
        }
        return BPFMapDefinition(object: self, handle: map)
    }

    /// The map called `name`, typed: its key and value sizes must match `Key` and `Value`.
    public func map<Key: BitwiseCopyable, Value: BitwiseCopyable>(
        _ name: String, key: Key.Type = Key.self, value: Value.Type = Value.self
    ) throws -> BPFMap<Key, Value> {
        let definition = try map(name)
        try definition.checkLayout(key: Key.self, value: Value.self)
        guard isLoaded else {
            throw BPFError("using map \(name) of \(self.name)", reason: "the object is not loaded yet")
        }
        return BPFMap(unchecked: definition.fd, name: name, owner: self)
    }

    /// Sets a `const volatile` global (kept in `.rodata`) before load; the verifier then
    /// treats it as a constant, so tunables cost nothing at run time.
    public func setConstant<T: BitwiseCopyable>(_ variable: String, to value: T) throws {
        let operation = "setting \(self.name).rodata \(variable)"
        guard !isLoaded else { throw BPFError(operation, reason: "the object is already loaded") }
        guard let rodata = rodataMap(), let slot = try rodataSlot(of: variable, operation: operation) else {
            throw BPFError(operation, errno: .noSuchFileOrDirectory, reason: "no const volatile variable named \(variable)")
        }
        guard slot.count == MemoryLayout<T>.size else {
            throw BPFError(operation, reason: "the variable has \(slot.count) bytes, the Swift value \(MemoryLayout<T>.size)")
        }
        // libbpf 1.1 hands out the initial value read-only: change a copy and set it back.
        var size = 0
        guard let current = bpf_map__initial_value(rodata, &size), slot.upperBound <= size else {
            throw BPFError(operation, reason: "the object's .rodata has no initial value")
        }
        var bytes = [UInt8](UnsafeRawBufferPointer(start: current, count: size))
        withUnsafeBytes(of: value) { bytes.replaceSubrange(slot, with: $0) }
        let result = bpf_map__set_initial_value(rodata, bytes, size)
        guard result == 0 else { throw BPFError.libbpf(operation, code: result) }
    }

    /// Loads every program with autoload on (the verifier runs here) and creates the maps.
    public func load() throws {
        LibBPFLog.reset()
        let result = bpf_object__load(handle)
        guard result == 0 else { throw BPFError.libbpf("loading BPF object \(name)", code: result) }
        isLoaded = true
    }

    /// Finds the byte range of a `.rodata` variable through the object's BTF.
    private func rodataSlot(of variable: String, operation: String) throws -> Range<Int>? {
        guard let btf = bpf_object__btf(handle) else {
            throw BPFError(operation, reason: "the object carries no BTF")
        }
        let sectionID = btf__find_by_name_kind(btf, ".rodata", UInt32(15) /* BTF_KIND_DATASEC, ambiguous when imported */)
        guard sectionID > 0, let section = btf__type_by_id(btf, UInt32(sectionID)),
              let entries = btf_var_secinfos(section) else { return nil }
        for index in 0..<Int(btf_vlen(section)) {
            let entry = entries[index]
            guard let type = btf__type_by_id(btf, entry.type),
                  let name = btf__name_by_offset(btf, type.pointee.name_off),
                  String(cString: name) == variable else { continue }
            return Int(entry.offset)..<Int(entry.offset + entry.size)
        }
        return nil
    }

    private func rodataMap() -> OpaquePointer? {
        var cursor = bpf_object__next_map(handle, nil)
        while let map = cursor {
            if bpf_map__is_internal(map), String(cString: bpf_map__name(map)).hasSuffix(".rodata") { return map }
            cursor = bpf_object__next_map(handle, map)
        }
        return nil
    }
}
