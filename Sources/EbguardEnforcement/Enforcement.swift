// Policy -> BPF maps, sessions, the loader.
