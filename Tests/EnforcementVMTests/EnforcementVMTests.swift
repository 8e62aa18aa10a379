// BPF-LSM enforcement tests; they run inside scripts/vmtest (see scripts/run-tests).
import Testing
