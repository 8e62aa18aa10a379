import CEbguardABI
import EbguardBPF
import Testing

/// Error paths of the libbpf owners. None of these needs privileges: they fail before the kernel is asked.
@Suite struct BPFObjectErrorTests {
    @Test func garbageBytesAreRejectedWithErrno() throws {
        let error = #expect(throws: BPFError.self) {
            _ = try BPFObject(bytes: [0x7f, 0x45, 0x4c, 0x46, 1, 2, 3, 4], name: "garbage")
        }
        #expect(error?.operation == "opening BPF object garbage")
        #expect(error?.errno != nil)
        #expect(error?.description.hasPrefix("opening BPF object garbage: ") == true)
    }

    @Test func emptyBytesAreRejected() {
        #expect(throws: BPFError.self) { _ = try BPFObject(bytes: [UInt8](), name: "empty") }
    }

    @Test func unknownEmbeddedObjectNamesWhatExists() {
        let error = #expect(throws: BPFError.self) { _ = try BPFObject(embedded: "no-such-object") }
        #expect(error?.reason?.contains("doctor") == true)
    }

    @Test func embeddedObjectsAreThere() {
        #expect(EmbeddedObjects.names.contains("doctor"))
        #expect(EmbeddedObjects.names.contains("selftest"))
        let bytes = EmbeddedObjects.bytes(named: "doctor")
        #expect(bytes.map { Array($0.prefix(4)) } == [0x7f, 0x45, 0x4c, 0x46])  // ELF magic
    }

    /// The kernel keeps 15 characters of a program's or map's name: a longer one shows truncated
    /// in bpftool and /proc, and two names that differ only past it would look the same.
    @Test func everyKernelVisibleNameFitsFifteenCharacters() throws {
        for objectName in EmbeddedObjects.names {
            let object = try BPFObject(embedded: objectName)
            for program in object.programs {
                #expect(program.name.utf8.count <= 15, "\(objectName): program \(program.name) is longer than 15 characters")
                #expect(program.name.hasPrefix("eg_"), "\(objectName): program \(program.name) lacks the eg_ prefix")
            }
        }
    }

    @Test func missingProgramNameIsAnError() throws {
        let object = try BPFObject(embedded: "doctor")
        #expect(object.programs.map(\.name).sorted() == ["eg_probe_conn4", "eg_probe_lsm", "eg_probe_tp"])
        let error = #expect(throws: BPFError.self) { _ = try object.program("eg_nope") }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.reason?.contains("eg_probe_tp") == true)
        #expect(try object.program("eg_probe_lsm").section == "lsm/file_open")
    }

    @Test func missingMapNameIsAnError() throws {
        let object = try BPFObject(embedded: "selftest")
        let error = #expect(throws: BPFError.self) { _ = try object.map("eg_nope") }
        #expect(error?.operation == "finding map eg_nope in selftest")
    }

    @Test func mapLayoutMismatchIsCaught() throws {
        let object = try BPFObject(embedded: "selftest")
        let definition = try object.map("eg_st_deny")
        #expect(definition.keySize == MemoryLayout<eg_inode_key>.size)
        let error = #expect(throws: BPFError.self) {
            _ = try object.map("eg_st_deny", key: UInt32.self, value: UInt32.self)
        }
        #expect(error?.reason?.contains("layout mismatch") == true)
        #expect(error?.reason?.contains("16-byte keys") == true)
        // The right types pass the layout check and then stop at "not loaded".
        let notLoaded = #expect(throws: BPFError.self) {
            _ = try object.map("eg_st_deny", key: eg_inode_key.self, value: UInt32.self)
        }
        #expect(notLoaded?.reason == "the object is not loaded yet")
    }

    @Test func ringBufferCannotBeTypedAsHashMap() throws {
        let object = try BPFObject(embedded: "selftest")
        let error = #expect(throws: BPFError.self) { _ = try object.map("eg_st_rb", key: UInt32.self, value: UInt32.self) }
        #expect(error?.reason?.contains("ring buffer") == true)
    }

    @Test func constantsAreCheckedByNameAndSize() throws {
        let object = try BPFObject(embedded: "selftest")
        try object.setConstant("eg_st_cgroup", to: UInt64(42))
        let wrongSize = #expect(throws: BPFError.self) { try object.setConstant("eg_st_cgroup", to: UInt32(42)) }
        #expect(wrongSize?.reason == "the variable has 8 bytes, the Swift value 4")
        let unknown = #expect(throws: BPFError.self) { try object.setConstant("eg_missing", to: UInt32(1)) }
        #expect(unknown?.errno == .noSuchFileOrDirectory)
    }

    @Test func autoloadCanBeSwitchedPerProgram() throws {
        let object = try BPFObject(embedded: "doctor")
        let lsm = try object.program("eg_probe_lsm")
        #expect(lsm.autoload)
        lsm.autoload = false
        #expect(!(try object.program("eg_probe_lsm").autoload))
        #expect(try object.program("eg_probe_tp").autoload)
    }
}
