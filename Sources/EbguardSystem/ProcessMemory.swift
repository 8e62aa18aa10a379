import CEbguardProcess

/// This process's heap.
public enum ProcessMemory {
    /// Hands what malloc holds free back to the kernel: for after a burst of allocation that
    /// will not come again (a large policy parsed and compiled), before a long quiet life.
    ///
    /// Alone this misses the top of a thread's arena (malloc_trim trims only the main
    /// arena's), which is where a burst on a worker thread ends up: see `keepLargeBlocksOutOfTheHeap`.
    public static func releaseFree() { eg_release_free_memory() }

    /// The size from which a block gets its own mapping, and the free space at the top of a
    /// heap that is handed back at once (glibc's 128 KiB default).
    public static let largeBlockBytes = 128 << 10

    /// For a long-lived process: blocks of `largeBlockBytes` and more get mappings of their own,
    /// returned to the kernel when freed, and free heap tops above it are trimmed. glibc's
    /// default instead raises both thresholds to the largest mapped block freed so far (up to
    /// 32 MiB): once libbpf freed the kernel's BTF (several MiB) after loading the programs,
    /// later large blocks stayed in the loading thread's arena, and its top, which neither
    /// free() nor malloc_trim hands back, kept the whole load phase's memory (11 MB of a
    /// daemon's 50 MB idle RSS). Call it before the burst, once.
    public static func keepLargeBlocksOutOfTheHeap() {
        let fixed = eg_fix_malloc_thresholds(largeBlockBytes)
        precondition(fixed == 0, "mallopt refused \(largeBlockBytes) bytes as the mmap and trim thresholds")
    }
}
