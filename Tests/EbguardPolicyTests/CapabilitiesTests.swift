import EbguardPolicy
import Testing

/// `capabilities:` names what a session keeps; every other capability is dropped before exec.
struct CapabilitiesTests {
    @Test func namesAreReadWithOrWithoutCapAndIntoTheKernelsBitNumbers() throws {
        let policy = try parse("version: 1\nname: t\ncapabilities: [net_bind_service, CAP_SYS_CHROOT, net_bind_service]\n")
        #expect(policy.capabilities == ["net_bind_service", "sys_chroot"])
        #expect(Capability.mask(policy.capabilities) == (1 << 10) | (1 << 18))
        #expect(try parse("version: 1\nname: t\n").capabilities.isEmpty)
        #expect(Capability.names.count == 41)  // CAP_LAST_CAP is 40 (checkpoint_restore) on 6.1
    }

    @Test func anUnknownCapabilityIsAnErrorAtItsPlace() {
        #expect(errors("version: 1\nname: t\ncapabilities: [net_bind_servic]\n")
            == ["p.yaml:3:16: unknown capability 'net_bind_servic' in 'capabilities'; did you mean 'net_bind_service'?"])
        #expect(errors("version: 1\nname: t\ncapabilities: sys_admin\n").first?.contains("'capabilities' must be a list") == true)
    }
}
