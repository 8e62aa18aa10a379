import CEbguardProcess

/// This process's heap.
public enum ProcessMemory {
    /// Hands what malloc holds free back to the kernel: for after a burst of allocation that
    /// will not come again (a large policy parsed and compiled), before a long quiet life.
    public static func releaseFree() { eg_release_free_memory() }
}
