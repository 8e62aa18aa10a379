#!/usr/bin/env python3
"""Cost of eg_unix_connect, one unix.bpf.o against another, from the kernel's BPF run-time
statistics (needs BPF-LSM: run it in the VM, as root):

    scripts/vmtest -- python3 bench/unix_cost.py OLD/unix.bpf.o NEW/unix.bpf.o [path]

Each object is loaded on its own (maps pinned under /sys/fs/bpf/hb-*), a session cgroup gets
1,000 exact `unix:` rules and 10 subtrees in eg_unix_rules, and a process in it connects 5 x
4,000 times to a socket an exact rule names, then to one no rule names (every directory of
its name looked up); the median ns per call of each is printed, and NEW/OLD. `path` writes
NEW's rules as EG_DOMAIN_UNIX path keys instead (the design of 1ac36e4, where every unix
rule went through the path matcher). Built objects: build/bpf/unix.bpf.o; an older one from
`git archive REV bpf | tar -x -C DIR` and clang as the Makefile calls it.
"""
import ctypes, os, struct, subprocess, sys, json, time, socket
lib = ctypes.CDLL("libbpf.so.1")
V = ctypes.c_void_p
for name, res, args in [("bpf_object__open", V, [ctypes.c_char_p]), ("bpf_object__next_map", V, [V, V]),
                        ("bpf_map__name", ctypes.c_char_p, [V]), ("bpf_map__set_pin_path", ctypes.c_int, [V, ctypes.c_char_p]),
                        ("bpf_map__initial_value", V, [V, ctypes.POINTER(ctypes.c_size_t)]),
                        ("bpf_map__set_initial_value", ctypes.c_int, [V, V, ctypes.c_size_t]),
                        ("bpf_object__load", ctypes.c_int, [V]), ("bpf_object__find_map_by_name", V, [V, ctypes.c_char_p]),
                        ("bpf_map__fd", ctypes.c_int, [V]), ("bpf_object__find_program_by_name", V, [V, ctypes.c_char_p]),
                        ("bpf_program__attach", V, [V]), ("bpf_program__fd", ctypes.c_int, [V]),
                        ("bpf_map_update_elem", ctypes.c_int, [ctypes.c_int, V, V, ctypes.c_uint64]),
                        ("bpf_link__destroy", ctypes.c_int, [V]), ("bpf_object__close", None, [V]),
                        ("bpf_obj_get_info_by_fd", ctypes.c_int, [ctypes.c_int, V, ctypes.POINTER(ctypes.c_uint32)])]:
    f = getattr(lib, name); f.restype = res; f.argtypes = args

def fnv(b):
    h = 0xcbf29ce484222325
    for c in b: h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h

CG = "/sys/fs/cgroup/hb"
os.makedirs(CG + "/s", exist_ok=True)
cgid = os.stat(CG + "/s").st_ino
D = "/tmp/hb"
os.makedirs(D + "/run/user/1000", exist_ok=True)
open("/proc/sys/kernel/bpf_stats_enabled", "w").write("1")

def load(path, tag):
    obj = lib.bpf_object__open(path.encode())
    m = None
    while True:
        m = lib.bpf_object__next_map(obj, m)
        if not m: break
        name = lib.bpf_map__name(m).decode()
        if name.endswith(".rodata"):
            size = ctypes.c_size_t(); p = lib.bpf_map__initial_value(m, ctypes.byref(size))
            data = bytearray((ctypes.c_char * size.value).from_address(p)); data[0:4] = (2).to_bytes(4, "little")
            buf = ctypes.create_string_buffer(bytes(data), size.value); lib.bpf_map__set_initial_value(m, buf, size.value)
        else:
            lib.bpf_map__set_pin_path(m, ("/sys/fs/bpf/hb-%s-%s" % (tag, name)).encode())
    assert lib.bpf_object__load(obj) == 0, "load " + path
    return obj

def update(obj, mapname, key, value):
    fd = lib.bpf_map__fd(lib.bpf_object__find_map_by_name(obj, mapname.encode()))
    k = ctypes.create_string_buffer(key, len(key)); v = ctypes.create_string_buffer(value, len(value))
    assert lib.bpf_map_update_elem(fd, k, v, 0) == 0, mapname

def stats(obj):
    fd = lib.bpf_program__fd(lib.bpf_object__find_program_by_name(obj, b"eg_unix_connect"))
    info = ctypes.create_string_buffer(256); n = ctypes.c_uint32(256)
    assert lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(n)) == 0
    # struct bpf_prog_info: run_time_ns at offset 192, run_cnt at 200 (6.1 uapi)
    return struct.unpack_from("<QQ", info.raw, 192)

exact = ["%s/run/user/%d/s%d.sock" % (D, i % 10, i) for i in range(1000)] + [D + "/run/target.sock"]
subtrees = ["%s/srv/t%d" % (D, i) for i in range(10)]

def rules_old(obj):
    for i, p in enumerate(exact):
        update(obj, "eg_unix_rules", struct.pack("<II108s", 1, len(p), p.encode()), struct.pack("<HHBBH", 0, 0, 0, 0, i))
    for i, p in enumerate(subtrees):
        update(obj, "eg_unix_rules", struct.pack("<II108s", 1, len(p) | 0x80000000, p.encode()), struct.pack("<HHBBH", 0, 0, 0, 0, 2000 + i))

def rules_new(obj):
    lengths = set()
    def rule(kind, p, idx):
        b = p.encode(); lengths.add(len(b))
        key = struct.pack("<IBBHQ", 1, 3, kind, len(b), fnv(b))
        verdict = bytes([0xff, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])  # EG_UNIX_ACCESS = write (1): allow
        val = verdict + struct.pack("<8H", *([idx] * 8)) + struct.pack("<II", 0, 0) + b.ljust(256, b"\0")
        update(obj, "eg_path_rules", key, val)
    for i, p in enumerate(exact): rule(1, p, i)
    for i, p in enumerate(subtrees): rule(2, p, 2000 + i)
    bits = [0, 0, 0, 0]
    for l in lengths: bits[l // 64] |= 1 << (l % 64)
    marker = struct.pack("<4Q", *bits) + b"\0" * (288 - 32)
    update(obj, "eg_path_rules", struct.pack("<IBBHQ", 1, 3, 4, 0, 0xcbf29ce484222325), marker)

WORK = r'''
import os, socket, sys, time
open("/sys/fs/cgroup/hb/s/cgroup.procs", "w").write(str(os.getpid()))
path, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(path); c.close()
'''

def measure(obj, target, n=4000):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(target): os.unlink(target)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    srv.bind(target); srv.listen(4096); srv.setblocking(False)
    t0, c0 = stats(obj)
    p = subprocess.Popen([sys.executable, "-c", WORK, target, str(n)])
    while p.poll() is None:
        try:
            while True: srv.accept()[0].close()
        except BlockingIOError: time.sleep(0.001)
    assert p.returncode == 0
    t1, c1 = stats(obj)
    srv.close()
    return (t1 - t0) / max(1, c1 - c0), c1 - c0

results = {}
for tag, path, fill in [("old", sys.argv[1], rules_old), ("new", sys.argv[2], rules_new if sys.argv[3:] == ["path"] else rules_old)]:
    obj = load(path, tag)
    update(obj, "eg_sessions", struct.pack("<Q", cgid), struct.pack("<I3BBH6x", 1, 0, 0, 0, 0, 0))
    fill(obj)
    links = [lib.bpf_program__attach(lib.bpf_object__find_program_by_name(obj, n)) for n in (b"eg_unix_connect", b"eg_unix_send")]
    for case, target in [("exact", D + "/run/target.sock"), ("none", D + "/run/user/1000/a/b/c/d/e/f/none.sock")]:
        runs = [measure(obj, target) for _ in range(5)]
        results[(tag, case)] = sorted(r[0] for r in runs)[2]
        print(tag, case, "median ns per eg_unix_connect over 5 x 4000:", round(results[(tag, case)]), "runs", [round(r[0]) for r in runs], "count", runs[0][1], flush=True)
    for l in links: lib.bpf_link__destroy(l)
for case in ("exact", "none"):
    print("new/old %s: %.2f" % (case, results[("new", case)] / results[("old", case)]))
