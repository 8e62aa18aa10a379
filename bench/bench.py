#!/usr/bin/env python3
"""ebguard benchmarks: `make bench` (full) and `make bench-smoke` (a minimal run that keeps this
harness from rotting). Every overhead is a ratio to a baseline measured in the same run, round by
round, so a noisy machine moves both sides; each figure is min/median/max over the rounds.

Parts:
  host  network hooks (TCP connect, UDP sendto); then, with a daemon of its own
        (bench/daemon_bench.py): `ebguard run` start-up, the daemon's event pipeline, its memory.
  vm    BPF-LSM hooks (open+close, stat walk, fork+exec, connect) and real workloads (git status,
        make), inside scripts/vmtest (this project's dev hosts refuse BPF-LSM). Runs from tmpfs
        copies; compare ratios only.
        Path patterns (bench/pattern_bench.py): 1,000 pattern rules against 1,000 exact rules, and
        agent.yaml's `name:` rules on every open.
        Unix sockets (bench/unix_bench.py): AF_UNIX connect and datagram sendto under `unix:` rules.
  size  the binary's size stripped (as the Debian package ships it) and what it is made of
        (bench/binary_size.py).

Load generators are in bench/loops.c (built static here). Inputs the guest must read are written
under bench/.work/ (gitignored): the guest's /tmp is a fresh tmpfs and the host root is read-only.

  python3 bench/bench.py [--profile full|smoke]          host part, then the VM part, then reports
  python3 bench/bench.py --part vm --profile P           (inside the VM; prints BENCH-JSON on stdout)
  python3 bench/bench.py --only patterns                  the path-pattern rows alone, merged into the last
                                                         results of the profile (the report is rewritten)
  python3 bench/bench.py --only unix                      the Unix socket rows alone (VM), merged the same way
  python3 bench/bench.py --only daemon                    the daemon's rows alone (start-up, memory, event
                                                         pipeline, on the host), merged the same way
"""
import argparse
import datetime
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import binary_size
import daemon_bench
import host_bench
import learn_bench
import pattern_bench
import unix_bench

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
VMDIR = Path("/tmp/ebguard-bench")          # the guest's tmpfs copy
DUMMY = "/opt/ebguard-bench-dummy"          # rules point here; nothing exists there
PORT_TCP, PORT_UDP = 47311, 47312   # 47314: daemon_bench.PORT_DENY
PATH_MAP_KEYS, NET_LPM_PREFIXES, RULE_INDEX_MAX = 65536, 65536, 65535
VERBOSE = os.environ.get("EBGUARD_BENCH_VERBOSE") == "1"   # log every command and its time

PROFILES = {
    "full": dict(
        rounds=7, vm_rounds=7, wl_rounds=5,
        # Policies of 10, 1,000 and 100,000 rules, each split by tier_split: three fifths path
        # rules (a quarter of them exec), two fifths network rules.
        tiers=[10, 1000, 100000],
        # What fits: the path map (65,536 keys for every session together) also holds the other
        # tiers' sessions and agent.yaml of the same run; a tier past this is measured as the
        # largest that fits instead, and its MISS says why.
        fit_path=64000, fit_net_host=60000, fit_net_vm=60000,
        host=dict(connect=10000, udp=100000),
        # Host rules (bench/host_bench.py): live answers in the big session, paced lookups, connects per run.
        hosts=dict(fillers=10000, lookups=500, connects=10000),
        vm=dict(open=8000, open_first=2000, walk=10, exec=100, exec_dyn=8, connect=500),
        # Path patterns (bench/pattern_bench.py): n pattern rules against n exact rules; its own
        # rounds and loop sizes keep the whole run under 15 minutes.
        patterns=dict(n=1000, rounds=4, open=3000, exec=30),
        # Unix sockets (bench/unix_bench.py): n `unix:` rules; connects and sends per sample.
        unix=dict(n=1000, rounds=5, connect=2000, send=4000),
        startup_reps=3,
        learn_events=100000,   # policy suggest/replay over a trail of this many decisions (bench/learn_bench.py)
        # The daemon's pipeline: each rate for pipeline_seconds (cpu_rate for cpu_seconds), every
        # rate pipeline_rounds times; flat out (rate 0) makes pipeline_flat_n events.
        daemon=dict(pipeline_rates=[10000, 25000, 50000, 100000, 150000, 200000, 250000, 300000, 400000, 0],
                    pipeline_seconds=2, pipeline_min_n=20000, pipeline_flat_n=500000, pipeline_rounds=2,
                    pipeline_direct_n=500000, cpu_rate=10000, cpu_seconds=5, sessions=100),
        repo_files=10000, repo_dirs=100, proj_files=2, git_reps=3, wl_alternatives=(),
        vm_timeout=1500,
    ),
    "smoke": dict(
        rounds=1, vm_rounds=1, wl_rounds=1,
        tiers=[10],
        fit_path=100, fit_net_host=100, fit_net_vm=100,
        host=dict(connect=100, udp=1000),
        hosts=dict(fillers=100, lookups=20, connects=100),
        vm=dict(open=100, open_first=50, walk=1, exec=4, exec_dyn=2, connect=20),
        patterns=dict(n=20, rounds=1, open=100, exec=4),
        unix=dict(n=20, rounds=1, connect=50, send=100),
        startup_reps=1,
        learn_events=2000,
        daemon=dict(pipeline_rates=[10000, 0], pipeline_seconds=0.2, pipeline_min_n=1000, pipeline_flat_n=5000,
                    pipeline_rounds=1, pipeline_direct_n=5000, cpu_rate=10000, cpu_seconds=0.2, sessions=3),
        repo_files=50, repo_dirs=5, proj_files=1, git_reps=1, wl_alternatives=(),
        vm_timeout=300,
    ),
}


def log(msg):
    print(msg, flush=True)


def sh(argv, **kw):
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kw).stdout


# ------------------------------------------------------------------------------ inputs

def policy_yaml(name, n_path, n_net, work):
    """A policy with n_path exec/file rules (a quarter exec) and n_net network rules, all pointing
    away from the benchmark, plus the few rules the benchmark itself meets."""
    out = [f"version: 1", f"name: {name}", "defaults: {exec: allow, file: allow, network: deny}",
           "exec:", f"  - {{ action: allow, path: \"{work}/**\" }}"]
    n_exec = n_path // 4
    for i in range(n_exec):
        k = i % 3
        if k == 0:
            out.append(f"  - {{ action: deny, path: {DUMMY}/bin/e{i} }}")
        elif k == 1:
            out.append(f"  - {{ action: deny, path: {DUMMY}/x{i}/** }}")
        else:
            out.append(f"  - {{ action: deny, name: tool-{i} }}")
    out += ["file:", f"  - {{ action: allow, path: \"{work}/**\", access: [read, write, create, delete] }}"]
    for i in range(n_path - n_exec):
        k = i % 3
        if k == 0:
            out.append(f"  - {{ action: deny, path: {DUMMY}/d{i % 256}/f{i} }}")
        elif k == 1:
            out.append(f"  - {{ action: deny, path: {DUMMY}/s{i}/**, access: [read, write] }}")
        else:
            out.append(f"  - {{ action: deny, name: secret-{i}, access: [read] }}")
    out += ["network:", "  - { action: allow, cidr: 127.0.0.0/8 }", "  - { action: allow, cidr: \"::1/128\" }"]
    for i in range(n_net):
        k = i % 3
        if k == 0:
            out.append(f"  - {{ action: deny, cidr: 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/32 }}")
        elif k == 1:
            out.append(f"  - {{ action: deny, cidr: 11.{(i >> 8) & 255}.{i & 255}.0/24, ports: [443], protocol: tcp }}")
        else:
            out.append(f"  - {{ action: deny, cidr: \"fd00:{(i >> 16) & 0xffff:x}:{i & 0xffff:x}::/64\" }}")
    return "\n".join(out) + "\n"


def policy_entries(n_path, n_net):
    """Map entries policy_yaml's policy writes: its rules, 2 allow rules, 2 loaded markers,
    and the loopback allows (push-down adds none: the prefixes do not overlap)."""
    v4 = sum(1 for i in range(n_net) if i % 3 != 2) + 1
    return {"eg_path_rules": n_path + 4, "eg_net4_rules": v4, "eg_net6_rules": n_net - (v4 - 1) + 1}


def tier_split(n):
    """A tier of n rules: (path rules, network rules)."""
    n_path = n * 3 // 5
    return n_path, n - n_path


def tier_fits(p, n, where):
    n_path, n_net = tier_split(n)
    return n_path <= p["fit_path"] and n_net <= p[f"fit_net_{where}"]


def fit_tier_needed(p, where):
    """The largest-that-fits policy is measured only when a requested tier does not fit (it would
    not fit beside a tier that does: they share the path map)."""
    return not all(tier_fits(p, n, where) for n in p["tiers"])


def biggest_config(p, where):
    """The configuration the targets are judged on: the largest tier, or what fits instead."""
    return f"{where}-fit" if fit_tier_needed(p, where) else f"{where}-{max(p['tiers'])}"


def tier_label(n_path, n_net):
    if n_path == n_net:
        return f"{n_path:,} rules"
    return f"{n_path:,} path + {n_net:,} network rules"


def prepare_inputs(p, ebguard):
    """Builds loops, snapshots the ebguard binary, writes policies and the workload tarballs."""
    WORK.mkdir(parents=True, exist_ok=True)
    cc = shutil.which("gcc") or shutil.which("clang") or shutil.which("cc")
    if not cc:
        sys.exit("bench: no C compiler (gcc or clang)")
    subprocess.run([cc, "-O2", "-static", "-Wall", "-o", str(WORK / "loops"), str(ROOT / "bench" / "loops.c")], check=True)
    # A snapshot: other builds may replace bin/ebguard while the benchmark runs.
    shutil.copy2(ebguard, WORK / "ebguard")
    pol = WORK / "policies"
    pol.mkdir(exist_ok=True)
    for f in pol.glob("*.yaml"):
        f.unlink()
    specs = {}
    for where, work, fit_net in (("host", str(WORK), p["fit_net_host"]), ("vm", str(VMDIR), p["fit_net_vm"])):
        tiers = []
        for n in p["tiers"]:
            tiers.append((f"{where}-{n}", *tier_split(n)))
        if fit_tier_needed(p, where):
            tiers.append((f"{where}-fit", p["fit_path"], fit_net))
        for name, n_path, n_net in tiers:
            (pol / f"{name}.yaml").write_text(policy_yaml(f"bench-{name}", n_path, n_net, work))
            specs[name] = dict(where=where, n_path=n_path, n_net=n_net)
    make_repo(p)
    make_project(p)
    return specs


def make_repo(p):
    tar = WORK / f"repo-{p['repo_files']}.tar"
    if tar.exists():
        return
    src = WORK / "repo-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    for i in range(p["repo_files"]):
        d = src / f"dir{i % p['repo_dirs']:03d}"
        d.mkdir(exist_ok=True)
        (d / f"file{i:05d}.txt").write_text(f"line {i}\n" * (1 + i % 7))
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost")
    # No automatic gc: it would repack in the background while the tarball is written.
    for argv in (["git", "init", "-q"], ["git", "config", "gc.auto", "0"], ["git", "add", "-A"],
                 ["git", "commit", "-q", "-m", "bench"]):
        subprocess.run(argv, cwd=src, check=True, env=env)
    with tarfile.open(f"{tar}.tmp", "w") as t:
        t.add(src, arcname="repo")
    os.replace(f"{tar}.tmp", tar)
    shutil.rmtree(src)


def make_project(p):
    tar = WORK / f"proj-{p['proj_files']}.tar"
    if tar.exists():
        return
    src = WORK / "proj-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    n = p["proj_files"]
    objs = []
    for i in range(n - 1):
        (src / f"m{i}.c").write_text(
            "".join(f"int m{i}_f{j}(int x) {{ return x * {j} + {i}; }}\n" for j in range(20)))
        objs.append(f"m{i}.o")
    calls = " + ".join(f"m{i}_f1(1)" for i in range(n - 1)) or "0"
    decls = "".join(f"int m{i}_f1(int);\n" for i in range(n - 1))
    (src / "main.c").write_text(f"#include <stdio.h>\n{decls}int main(void) {{ printf(\"%d\\n\", {calls}); return 0; }}\n")
    objs.append("main.o")
    (src / "Makefile").write_text(f"prog: {' '.join(objs)}\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) -O0 -c -o $@ $<\n")
    with tarfile.open(f"{tar}.tmp", "w") as t:
        t.add(src, arcname="proj")
    os.replace(f"{tar}.tmp", tar)
    shutil.rmtree(src)


# ------------------------------------------------------------------------------ workers

class Worker:
    """`loops serve` under one configuration: direct, ebguard run, strace or bwrap."""

    def __init__(self, name, argv, cwd, timeout=900, env=None):
        self.name = name
        self.dead = False
        self.errlog = open(Path(cwd) / f"worker-{name}.err", "w+")
        start = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errlog, text=True, bufsize=1, env=env)
        self.ask("rss", timeout)   # answers only once ebguard has compiled, loaded and spawned
        self.ready_seconds = time.monotonic() - start

    def stderr(self):
        self.errlog.flush()
        self.errlog.seek(0)
        lines = [l for l in self.errlog.read().splitlines() if "no SUDO_USER" not in l]
        return " / ".join(lines[-3:])

    def ask(self, command, timeout=600):
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("ok "):
            why = line.strip() or (f"no answer within {timeout}s" if not ready else
                                   f"exited with status {self.proc.poll()}")
            raise RuntimeError(f"{self.name}: {command.split()[0]}: {why}; stderr: {self.stderr()}")
        return [float(x) for x in line.split()[1:]]

    def rss_kb(self):
        """VmRSS and VmHWM of the process this worker started (ebguard run, strace, bwrap)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        field = {l.split(":")[0]: int(l.split()[1]) for l in status.splitlines() if l.startswith("Vm")}
        return field.get("VmRSS", 0), field.get("VmHWM", 0)

    def kill(self):
        self.dead = True
        self.proc.kill()
        self.proc.wait()

    def close(self):
        if self.dead:
            return
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(60)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.errlog.close()


def worker_argv(kind, loops, ebguard=None, policy=None, bind=None):
    if kind == "direct":
        return [loops, "serve"]
    if kind == "ebguard":
        return [ebguard, "run", "--quiet", "--policy", policy, "--", loops, "serve"]
    if kind == "strace":
        return ["strace", "-f", "-e", "trace=openat,execve,connect", "-o", "/dev/null", loops, "serve"]
    if kind == "bwrap":
        argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", "/tmp", "/tmp"]
        if bind:
            argv += ["--bind", bind, bind]
        return argv + ["--", loops, "serve"]
    raise ValueError(kind)


def bpf_map_memlock():
    """Bytes of memlock bpftool reports for ebguard's maps (eg_*), and per map."""
    try:
        maps = json.loads(sh(["bpftool", "-j", "map", "show"]))
    except Exception as e:
        return {"error": str(e)}
    mine = {m.get("name", ""): m.get("bytes_memlock", 0) for m in maps if m.get("name", "").startswith("eg_")}
    sizes = {m["name"]: m.get("bytes_key", 0) + m.get("bytes_value", 0) for m in maps if m.get("name", "").startswith("eg_")}
    return {"total": sum(mine.values()), "maps": mine, "entry_bytes": sizes}


def start_workers(configs, cwd, out, where):
    """configs: [(config, label, argv, meta)]. Failures become MISS/N-A records, not crashes."""
    workers = {}
    for config, label, argv, meta in configs:
        before = bpf_map_memlock() if meta.get("policy") else None
        log(f"  [{where}] starting {label} ...")
        try:
            w = Worker(config, argv, cwd)
        except Exception as e:
            out["configs"].append(dict(where=where, config=config, label=label, status="failed", reason=str(e), **meta))
            log(f"  [{where}] {label}: FAILED: {e}")
            continue
        rss, hwm = w.rss_kb()
        rec = dict(where=where, config=config, label=label, status="ok", ready_seconds=round(w.ready_seconds, 2),
                   rss_kb=rss, hwm_kb=hwm, **meta)
        if before is not None:
            after = bpf_map_memlock()
            if "total" in before and "total" in after:
                rec["bpf_memlock_delta"] = after["total"] - before["total"]
                rec["bpf_memlock_total"] = after["total"]
                rec["maps_created"] = not before["maps"]
                if meta.get("n_path") is not None:
                    rec["map_entries"] = entries = policy_entries(meta["n_path"], meta["n_net"])
                    rec["map_bytes_estimate"] = sum(count * after["entry_bytes"].get(name, 0)
                                                    for name, count in entries.items())
        out["configs"].append(rec)
        log(f"  [{where}] {label}: ready in {w.ready_seconds:.1f}s, RSS {rss / 1024:.1f} MB")
        workers[config] = w
    return workers


def measure_rounds(workers, benches, rounds, out, where, kind="hooks", slow=None, timeout=300):
    """benches: [(bench, template, n, [configs])]; 'direct' (the baseline) must be among configs.
    Results are per operation, so a configuration listed in `slow` (strace) runs n // slow[c]
    operations. One unrecorded warm-up round first: the first pass of anything pays cold caches.

    Each configuration's sample is taken between two baseline samples, and its ratio is to their
    mean: direct, A, direct, B, direct, ... This machine's speed drifts within seconds (other
    builds, VMs), so a baseline measured once per round, several configurations away, made the
    spread of the ratios (0.78-1.38 for a host connect) far wider than the effect measured."""
    slow = slow or {}
    names = [c for c in workers if c != "direct"]
    samples, ratios = {}, {}

    def measure(bench, template, n, config):
        command = template.format(n=max(1, n // slow.get(config, 1)))
        if workers[config].dead:
            return None
        t = time.monotonic()
        try:
            ns = workers[config].ask(command, timeout)[0]
            if VERBOSE:
                log(f"  [{where}] {config}: {command}: {time.monotonic() - t:.2f}s")
            return ns
        except Exception as e:
            # A worker that did not answer may answer late: never ask it again.
            workers[config].kill()
            log(f"  [{where}] {bench} {config}: {e}")
            return None

    for r in range(-1, rounds):
        order = names[r % len(names):] + names[:r % len(names)] if names else []
        for bench, template, n, configs in benches:
            before = measure(bench, template, n, "direct")
            if r >= 0:
                samples.setdefault((bench, "direct"), []).append(before)
                ratios.setdefault((bench, "direct"), []).append(1.0 if before else None)
            for config in order:
                if config not in configs:
                    continue
                ns = measure(bench, template, n, config)
                after = measure(bench, template, n, "direct")
                if r >= 0:
                    samples.setdefault((bench, config), []).append(ns)
                    base = (before + after) / 2 if before and after else None
                    ratios.setdefault((bench, config), []).append(ns / base if ns and base else None)
                before = after
        log(f"  [{where}] {kind} round {r + 1}/{rounds} done" if r >= 0 else f"  [{where}] {kind} warm-up round done")
    for bench, template, n, configs in benches:
        base = samples.get((bench, "direct"), [])
        for config in configs:
            vals = samples.get((bench, config))
            if vals is None:
                continue
            rec = dict(where=where, bench=bench, config=config, ops=max(1, n // slow.get(config, 1)),
                       command=template.format(n=max(1, n // slow.get(config, 1))), ns=vals)
            good = [x for x in ratios.get((bench, config), []) if x]
            if None in vals or not good:
                rec["error"] = "a round failed (see the log)"
            if good:
                rec["ratio"] = dict(min=min(good), median=statistics.median(good), max=max(good))
                rec["baseline_ns_median"] = statistics.median([b for b in base if b])
            out[kind].append(rec)


def bpf_prog_stats():
    """(name, run_time_ns, run_cnt) of ebguard's programs (eg_*) by program id; the counts are
    only kept while kernel.bpf_stats_enabled is 1."""
    progs = json.loads(sh(["bpftool", "-j", "prog", "show"]))
    return {p["id"]: (p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in progs if p.get("name", "").startswith("eg_")}


# Programs that run for a load's untimed setup, not for what it times: openfirst makes its files
# with mknod and removes them outside the clock.
UNTIMED_PROGRAMS = {"open+close, first open": {"eg_path_mknod", "eg_path_unlink", "eg_guard_unlink"}}


def measure_hook_time(workers, benches, out, where):
    """One more pass over the governed configurations with the kernel's BPF statistics on: the
    time each operation spends inside ebguard's programs, by program. It says what the hooks
    themselves cost, apart from everything else a governed process pays (its cgroup, this
    machine's drift). Not during the timed rounds: the statistics add two clock reads to every
    program run. The workers take turns, so the programs' counts in a step are that worker's,
    but for what reading them costs (subtracted) and the idle rest of the machine."""
    governed = {c["config"] for c in out["configs"] if c.get("policy") and c["status"] == "ok"}
    sysctl = Path("/proc/sys/kernel/bpf_stats_enabled")
    try:
        previous = sysctl.read_text().strip()
        sysctl.write_text("1\n")
    except OSError as e:
        out["hook_time_error"] = f"kernel.bpf_stats_enabled: {e}"
        return
    try:
        for bench, template, n, configs in benches:
            for config in configs:
                if config not in governed or workers[config].dead:
                    continue
                # Reading the statistics runs bpftool (an exec, opens, bpf() calls: ebguard's programs
                # run for it too). s0 -> s1 is one reading with nothing else; s1 -> s2 is one reading
                # and the work: the difference is the work.
                s0 = bpf_prog_stats()
                s1 = bpf_prog_stats()
                try:
                    reply = workers[config].ask(template.format(n=n))
                except Exception as e:
                    log(f"  [{where}] hook time {bench} {config}: {e}")
                    continue
                s2 = bpf_prog_stats()
                ops = reply[1] if len(reply) > 1 and reply[1] > 0 else n   # walk: ns per entry
                programs = {}
                for pid, (name, ns2, cnt2) in s2.items():
                    ns0, cnt0 = s0.get(pid, (name, 0, 0))[1:]
                    ns1, cnt1 = s1.get(pid, (name, ns0, cnt0))[1:]
                    calls = (cnt2 - cnt1) - (cnt1 - cnt0)
                    ns = (ns2 - ns1) - (ns1 - ns0)
                    if calls > 0 and ns > 0 and name not in UNTIMED_PROGRAMS.get(bench, ()):
                        prog = programs.setdefault(name, dict(ns=0, calls=0))
                        prog["ns"] += ns
                        prog["calls"] += calls
                total = sum(v["ns"] for v in programs.values())
                out["hook_time"].append(dict(where=where, bench=bench, config=config, ops=ops, ns_per_op=total / ops,
                                             programs={k: dict(calls_per_op=v["calls"] / ops, ns_per_call=v["ns"] / v["calls"])
                                                       for k, v in sorted(programs.items(), key=lambda kv: -kv[1]["ns"])}))
    finally:
        sysctl.write_text(previous + "\n")
    log(f"  [{where}] time inside ebguard's programs measured")


# ------------------------------------------------------------------------------ VM part

def vm_part(p, only=None):
    if only in ("patterns", "unix"):
        shutil.rmtree(VMDIR, ignore_errors=True)
        VMDIR.mkdir()
        shutil.copy2(WORK / "loops", VMDIR / "loops")
        shutil.copy2(WORK / "ebguard", VMDIR / "ebguard")
        out = dict(where="vm", kernel=platform.release(), cpus=os.cpu_count(), loadavg=os.getloadavg())
        out[only] = vm_patterns(p) if only == "patterns" else vm_unix(p)
        print("BENCH-JSON " + json.dumps(out), flush=True)
        return 0
    out = dict(where="vm", kernel=platform.release(), cpus=os.cpu_count(), configs=[], hooks=[], workloads=[],
               hook_time=[], loadavg=os.getloadavg())
    shutil.rmtree(VMDIR, ignore_errors=True)
    VMDIR.mkdir()
    for f in ("loops", "ebguard"):
        shutil.copy2(WORK / f, VMDIR / f)
    shutil.copy2("/bin/true", VMDIR / "true")
    shutil.copy2(WORK / "loops", VMDIR / "true-static")
    (VMDIR / "held").mkdir()
    shutil.copy2(WORK / "loops", VMDIR / "held" / "git")   # agent.yaml holds every exec named git
    (VMDIR / "data").mkdir()
    (VMDIR / "data" / "file").write_text("x\n")
    (VMDIR / "first").mkdir()
    tree = VMDIR / "tree"
    for d in range(10):
        for e in range(50):
            (tree / f"d{d}").mkdir(parents=True, exist_ok=True)
            (tree / f"d{d}" / f"f{e}").write_text("")
    for name in (f"repo-{p['repo_files']}.tar", f"proj-{p['proj_files']}.tar"):
        with tarfile.open(WORK / name) as t:
            t.extractall(VMDIR)
    subprocess.run(["git", "-C", str(VMDIR / "repo"), "update-index", "-q", "--refresh"], check=False)
    loops, ebguard = str(VMDIR / "loops"), str(VMDIR / "ebguard")
    listener = subprocess.Popen([loops, "listen", str(PORT_TCP)], stdout=subprocess.PIPE, text=True)
    listener.stdout.readline()
    out["bpf_memlock_before"] = bpf_map_memlock()

    pol = WORK / "policies"
    tiers = [(f"vm-{n}", n) for n in p["tiers"]] + ([("vm-fit", None)] if fit_tier_needed(p, "vm") else [])
    configs = [("direct", "direct (ungoverned)", worker_argv("direct", loops), {})]
    for name, n in tiers:
        n_path, n_net = tier_split(n) if n else (p["fit_path"], p["fit_net_vm"])
        meta = dict(policy=name, n_path=n_path, n_net=n_net)
        label = "ebguard " + tier_label(meta["n_path"], meta["n_net"]) + (" (largest that fits)" if n is None else "")
        if n and not tier_fits(p, n, "vm"):
            out["configs"].append(dict(where="vm", config=name, label=label, status="failed",
                                       reason="does not fit; tried on the host only (see Limits found)", **meta))
            continue
        configs.append((name, label, worker_argv("ebguard", loops, ebguard, str(pol / f"{name}.yaml")), meta))
    configs.append(("agent", "ebguard policies/agent.yaml",
                    worker_argv("ebguard", loops, ebguard, str(ROOT / "policies" / "agent.yaml")), dict(policy="agent.yaml")))
    configs.append(("strace", "strace -f -e trace=openat,execve,connect", worker_argv("strace", loops), {}))
    configs.append(("bwrap", "bwrap (ro-bind /, dev, proc, bind /tmp)", worker_argv("bwrap", loops), {}))
    workers = start_workers(configs, str(VMDIR), out, "vm")
    out["bpf_memlock_after"] = bpf_map_memlock()

    q = p["vm"]
    loop_configs = [c for c in workers if c != "agent"]
    benches = [
        ("open+close", f"open {VMDIR}/data/file {{n}}", q["open"], loop_configs),
        ("open+close, first open", f"openfirst {VMDIR}/first {{n}}", q["open_first"], loop_configs),
        ("stat walk", f"walk {tree} {{n}}", q["walk"], loop_configs),
        ("fork+exec", f"exec {VMDIR}/true-static {{n}}", q["exec"], loop_configs),
        ("fork+exec /bin/true", f"exec {VMDIR}/true {{n}}", q["exec_dyn"], loop_configs),
        ("tcp connect", f"connect {PORT_TCP} {{n}}", q["connect"], loop_configs),
    ]
    # strace stops the tracee at every system call: under TCG that is 10-200x, so it gets fewer ops.
    measure_rounds(workers, benches, p["vm_rounds"], out, "vm", slow={"strace": 10})
    measure_hook_time(workers, benches, out, "vm")

    repo, proj = VMDIR / "repo", VMDIR / "proj"

    def workloads(configs):
        configs = [c for c in configs if c in workers]
        return [("git status", f"run {{n}} git -C {repo} status --porcelain", p["git_reps"], configs),
                ("make (C project)", f"run {{n}} make -s -B -C {proj}", 1, configs)]

    wl = ["direct", "agent", biggest_config(p, "vm")] + list(p["wl_alternatives"])
    held = [("held exec", f"exec {VMDIR}/held/git {{n}}", q["exec"], ["direct", "agent"])]
    measure_rounds({c: workers[c] for c in wl if c in workers}, workloads(wl) + held, p["wl_rounds"], out, "vm",
                   kind="workloads")
    for w in workers.values():
        w.close()
    out["patterns"] = vm_patterns(p)
    out["unix"] = vm_unix(p)
    out["hosts"] = host_bench.hosts_part(p, ebguard, loops, PORT_TCP, WORK / "hosts")
    listener.kill()
    print("BENCH-JSON " + json.dumps(out), flush=True)


def vm_patterns(p):
    try:
        return pattern_bench.patterns_part(p, str(VMDIR / "ebguard"), str(VMDIR / "loops"), VMDIR,
                                           ROOT / "policies" / "agent.yaml", start_workers, measure_rounds, worker_argv,
                                           measure_hook_time)
    except Exception as e:   # a harness failure, reported by errors()
        return dict(error=f"patterns: {e}")


def vm_unix(p):
    try:
        return unix_bench.unix_part(p, str(VMDIR / "ebguard"), str(VMDIR / "loops"), VMDIR, ROOT / "policies" / "agent.yaml",
                                    start_workers, measure_rounds, worker_argv, measure_hook_time)
    except Exception as e:   # a harness failure, reported by errors()
        return dict(error=f"unix: {e}")


def run_vm(p, profile, only=None):
    log("VM part: scripts/vmtest (qemu TCG, Debian kernel with BPF-LSM)")
    argv = [str(ROOT / "scripts" / "vmtest"), "--timeout", str(p["vm_timeout"]), "--mem", "3072", "--",
            "/usr/bin/python3", "-u", str(ROOT / "bench" / "bench.py"), "--part", "vm", "--profile", profile]
    argv += ["--only", only] if only else []
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = None
    for line in proc.stdout:
        if line.startswith("BENCH-JSON "):
            result = json.loads(line[len("BENCH-JSON "):])
        else:
            print("  " + line.rstrip() if not line.startswith("  [vm]") else line.rstrip(), flush=True)
    rc = proc.wait()
    if result is None:
        return dict(where="vm", error=f"scripts/vmtest exited {rc} without results")
    return result


# ------------------------------------------------------------------------------ host part

def host_part(p):
    out = dict(where="host", kernel=platform.release(), cpus=os.cpu_count(), configs=[], hooks=[], workloads=[],
               hook_time=[], loadavg=os.getloadavg())
    loops, ebguard, pol = str(WORK / "loops"), str(WORK / "ebguard"), WORK / "policies"
    listener = subprocess.Popen([loops, "listen", str(PORT_TCP)], stdout=subprocess.PIPE, text=True)
    listener.stdout.readline()
    out["bpf_memlock_before"] = bpf_map_memlock()

    # The requested sizes first: a size that cannot be loaded is a MISS with the reason.
    configs = [("direct", "direct (ungoverned)", worker_argv("direct", loops), {})]
    for n in p["tiers"]:
        n_path, n_net = tier_split(n)
        if not tier_fits(p, n, "host"):   # the probe tried it: a MISS with its reason
            out["configs"].append(dict(where="host", config=f"host-{n}", label="ebguard " + tier_label(n_path, n_net),
                                       status="failed", reason="does not fit (see Limits found)", policy=f"host-{n}",
                                       n_path=n_path, n_net=n_net))
            continue
        configs.append((f"host-{n}", "ebguard " + tier_label(n_path, n_net),
                        worker_argv("ebguard", loops, ebguard, str(pol / f"host-{n}.yaml")),
                        dict(policy=f"host-{n}", n_path=n_path, n_net=n_net)))
    if fit_tier_needed(p, "host"):
        configs.append(("host-fit", "ebguard " + tier_label(p["fit_path"], p["fit_net_host"]) + " (largest that fits)",
                        worker_argv("ebguard", loops, ebguard, str(pol / "host-fit.yaml")),
                        dict(policy="host-fit", n_path=p["fit_path"], n_net=p["fit_net_host"])))
    configs.append(("agent", "ebguard policies/agent.yaml",
                    worker_argv("ebguard", loops, ebguard, str(ROOT / "policies" / "agent.yaml")), dict(policy="agent.yaml")))
    configs.append(("strace", "strace -f -e trace=openat,execve,connect", worker_argv("strace", loops), {}))
    configs.append(("bwrap", "bwrap (ro-bind /, dev, proc, bind /tmp)", worker_argv("bwrap", loops, bind=str(WORK)), {}))
    workers = start_workers(configs, str(WORK), out, "host")
    out["bpf_memlock_after"] = bpf_map_memlock()
    q = p["host"]
    loop_configs = [c for c in workers if c != "agent"]
    benches = [
        ("tcp connect", f"connect {PORT_TCP} {{n}}", q["connect"], loop_configs),
        ("udp sendto", f"udp {PORT_UDP} {{n}}", q["udp"], loop_configs),
    ]
    measure_rounds(workers, benches, p["rounds"], out, "host", slow={"strace": 5})
    measure_hook_time(workers, benches, out, "host")
    for w in workers.values():
        w.close()
    out["hosts"] = host_bench.hosts_part(p, ebguard, loops, PORT_TCP, WORK / "hosts")
    listener.kill()
    out["learn"] = learn_bench.learn_part(p, ebguard, ROOT, WORK / "learn")
    agent = ROOT / "policies" / "agent.yaml"
    out["daemon"] = daemon_bench.daemon_part(p, ebguard, loops, dict(startup=agent, sessions=agent), WORK / "daemon",
                                             Worker, bpf_map_memlock)
    return out


def probe_oversize(p, ebguard, pol):
    """Tries each requested size once with /bin/true: the reason a size cannot be measured."""
    res = {}
    for n in [n for n in p["tiers"] if not tier_fits(p, n, "host")]:
        name = f"host-{n}"
        t = time.perf_counter()
        try:
            r = subprocess.run([ebguard, "run", "--quiet", "--policy", str(pol / f"{name}.yaml"), "--", "/bin/true"],
                               capture_output=True, text=True, timeout=300)
            rc, err = r.returncode, " / ".join(l for l in r.stderr.splitlines() if "SUDO_USER" not in l and "DEGRADED" not in l)
        except subprocess.TimeoutExpired:
            rc, err = None, "timed out after 300 s"
        res[n] = dict(rc=rc, stderr=err[-300:], seconds=round(time.perf_counter() - t, 2))
    if res:
        # Where the rule count breaks: one domain holding 65,536 and 65,537 rules.
        for n in (RULE_INDEX_MAX + 1, RULE_INDEX_MAX + 2):
            path = pol / f"index-{n}.yaml"
            path.write_text(f"version: 1\nname: index-{n}\nfile:\n" +
                            "".join(f"  - {{ action: deny, path: {DUMMY}/f{i} }}\n" for i in range(n)))
            r = subprocess.run([ebguard, "run", "--quiet", "--policy", str(path), "--", "/bin/true"],
                               capture_output=True, text=True, timeout=300)
            res[f"file-rules-{n}"] = dict(rc=r.returncode)
    return res


# ------------------------------------------------------------------------------ report

def fmt_ratio(r):
    if not r:
        return "n/a"
    return f"{r['min']:.3f} / **{r['median']:.3f}** / {r['max']:.3f}"


def pct(r):
    return (r["median"] - 1) * 100


def find(recs, **kw):
    for rec in recs:
        if all(rec.get(k) == v for k, v in kw.items()):
            return rec
    return None


def outcome(rc):
    if rc is None:
        return "did not finish"
    if rc < 0:
        return f"is killed by signal {-rc}" + (" (SIGILL: a Swift runtime trap)" if rc == -4 else "")
    return "runs (exit 0)" if rc == 0 else f"exits {rc}"


def miss_reason(n, probe, fit_path):
    parts = []
    if n > PATH_MAP_KEYS - 2:
        parts.append(f"{n:,} path rules exceed the path map ({PATH_MAP_KEYS:,} keys for all sessions together)")
    if n > NET_LPM_PREFIXES:
        parts.append(f"{n:,} network prefixes exceed the LPM maps ({NET_LPM_PREFIXES:,} per family, all sessions)")
    if n > RULE_INDEX_MAX + 1:
        a, b = probe.get(f"file-rules-{RULE_INDEX_MAX + 1}", {}), probe.get(f"file-rules-{RULE_INDEX_MAX + 2}", {})
        parts.append("rule indices are 16 bits in the kernel ABI, and `UInt16(index)` in PolicyMaps.swift traps "
                     f"past 65,535 (a policy of 65,536 file rules: `ebguard run` {outcome(a.get('rc'))}; "
                     f"65,537 file rules: {outcome(b.get('rc'))})")
    pr = probe.get(str(n)) or probe.get(n)
    if pr and pr["rc"] not in (0,):
        parts.append(f"`ebguard run` with this policy {outcome(pr['rc'])} after {pr['seconds']} s"
                     + (f" ({pr['stderr']})" if pr["stderr"] else ""))
    return "; ".join(parts) or "could not be loaded"


def evaluate(res, p):
    host, vm = res.get("host", {}), res.get("vm", {})
    targets = []

    def add(name, target, value, verdict, note=""):
        targets.append(dict(name=name, target=target, value=value, verdict=verdict, note=note))

    def loaded(part, config):
        c = find(part.get("configs", []), config=config)
        return c if c and c["status"] == "ok" else None

    big = max(p["tiers"])
    for part, where in ((vm, "vm"), (host, "host")):
        for bench, limit, tname in (("open+close", 5, "open+close overhead"),
                                    ("open+close, first open", 5, "open+close overhead, first open of each file"),
                                    ("fork+exec", 3, "exec overhead"), ("fork+exec /bin/true", 3, "exec overhead (/bin/true)"),
                                    ("tcp connect", 5, "connect overhead"), ("udp sendto", 5, "UDP sendto overhead (sendmsg4 hook)")):
            if not find(part.get("hooks", []), bench=bench):
                continue
            for tier in dict.fromkeys((f"{where}-{big}", biggest_config(p, where))):
                c = find(part.get("configs", []), config=tier)
                if c is None:
                    continue
                label = c["label"].replace("ebguard ", "")
                rec = find(part["hooks"], bench=bench, config=tier)
                if c["status"] != "ok":
                    add(f"{tname} ({where}), {label}", f"≤ {limit}%", "cannot be loaded", "MISS",
                        "see Limits found" if c.get("n_path", 0) > p["fit_path"] else c["reason"][:200])
                elif rec and rec.get("ratio"):
                    v = pct(rec["ratio"])
                    add(f"{tname} ({where}), {label}", f"≤ {limit}%", f"{v:+.1f}%", "PASS" if v <= limit else "MISS")
    for wl in ("git status", "make (C project)"):
        for config in ("agent", biggest_config(p, "vm")):
            rec = find(vm.get("workloads", []), bench=wl, config=config)
            c = loaded(vm, config)
            if rec and rec.get("ratio") and c:
                v = pct(rec["ratio"])
                add(f"real workload: {wl} (vm), {c['label'].replace('ebguard ', '')}", "≤ 2%", f"{v:+.1f}%",
                    "PASS" if v <= 2 else "MISS")
    daemon_bench.evaluate(host.get("daemon", {}), add)
    host_bench.evaluate(host.get("hosts"), add)
    learn_bench.evaluate(host.get("learn"), add)
    pattern_bench.evaluate(vm.get("patterns"), add)
    for part, where in ((host, "host"), (vm, "vm")):
        for c in part.get("configs", []):
            if c["status"] == "ok" and c.get("policy"):
                mb = c["rss_kb"] / 1024
                add(f"ebguard run RSS idle ({where}), {c['label'].replace('ebguard ', '')}", "≤ 40 MB",
                    f"{mb:.1f} MB (peak {c['hwm_kb'] / 1024:.1f} MB)", "PASS" if mb <= 40 else "MISS")
    return targets


def write_reports(res, p, json_path, md_path):
    res["targets"] = evaluate(res, p)
    json_path.write_text(json.dumps(res, indent=1) + "\n")
    md = render_md(res, p)
    md_path.write_text(md)
    log("")
    if res["profile"] == "smoke":
        log("smoke run: one round of tiny loops, the verdicts below mean nothing")
    for t in res["targets"]:
        log(f"{t['verdict']:5} {t['name']}: {t['value']} (target {t['target']}){' — ' + t['note'] if t['note'] else ''}")
    log(f"\nwrote {json_path.relative_to(ROOT)} and {md_path.relative_to(ROOT)}")


def render_md(res, p):
    host, vm = res.get("host", {}), res.get("vm", {})
    L = []
    L += ["# Benchmarks", "",
          "Generated by `bench/bench.py`; do not edit by hand. Reproduce (as root, on a Debian 12 host "
          "with this repository built):", "", "```sh", res["command"], "```", "",
          f"Run: {res['generated']}, `bin/ebguard` of commit `{res['commit']}`{res.get('binary_note', '')}, "
          f"profile `{res['profile']}`, {res['wall_seconds']:.0f} s wall (the harness; `make` adds a build if "
          "`bin/ebguard` is out of date). ",
          f"Host: Linux {host.get('kernel', '?')}, {host.get('cpus', '?')} CPUs, load average at start "
          f"{', '.join(f'{x:.1f}' for x in host.get('loadavg', []))}, at the end "
          f"{', '.join(f'{x:.1f}' for x in res.get('loadavg_end', []))} (the machine is shared with other "
          "builds and VMs: ratios, not absolute times; wide min–max spans are that noise). "
          f"VM: Linux {vm.get('kernel', '?')} under qemu TCG via `scripts/vmtest` (BPF-LSM active), "
          f"{vm.get('cpus', '?')} vCPUs, everything on tmpfs.", "",
          "Every overhead is the ratio governed ÷ ungoverned of the same load generator (`bench/loops.c`), "
          "each governed sample taken between two ungoverned ones and divided by their mean (the "
          "machine's speed drifts within seconds); rounds rotate the order of configurations. Cells give "
          "min / **median** / max of the per-round ratios "
          f"({p['rounds']} rounds on the host, {p['vm_rounds']} in the VM, {p['wl_rounds']} for real workloads). "
          "Verdicts use the median. Governed runs are long-lived workers started with "
          "`ebguard run --quiet --policy P -- loops serve`, so a policy is compiled once and its cost "
          "is not in the loop; the ungoverned worker is the same binary started directly. These are "
          "standalone sessions (no daemon): the kernel reports no process life for them, as nobody reads "
          "it; a daemon's session also reports each fork, exec and exit to the daemon, whose cost per "
          "event is in the pipeline rows.", ""]
    if res["profile"] == "smoke":
        L += ["**Smoke run: one round of tiny loops; it checks that the harness works, its figures mean nothing.**", ""]
    L += ["## Targets", "", "| | target | measured | verdict |", "| --- | --- | --- | --- |"]
    for t in res.get("targets", []):
        note = f" ({t['note']})" if t["note"] else ""
        L.append(f"| {t['name']}{note} | {t['target']} | {t['value']} | **{t['verdict']}** |")
    L.append("")

    def hook_time_table(part):
        recs = part.get("hook_time", [])
        if part.get("hook_time_error"):
            L.extend([f"Time inside ebguard's programs ({part.get('where')}): not measured ({part['hook_time_error']}).", ""])
        if not recs:
            return
        labels = {c["config"]: c["label"] for c in part.get("configs", [])}
        L.extend([f"Time spent inside ebguard's BPF programs ({part.get('where')}), from the kernel's BPF statistics "
                  "(`kernel.bpf_stats_enabled`, one more pass after the timed rounds; the statistics' own clock "
                  "reads are included, so these are upper bounds). *Share* is that time over the ungoverned "
                  "operation's median: what the hooks alone add, apart from the rest of the overhead above (the "
                  "session's cgroup, the machine's drift).", "",
                  "| load | configuration | ns per operation in ebguard's programs | share of the ungoverned operation | programs (calls per operation × ns per call) |",
                  "| --- | --- | --- | --- | --- |"])
        for r in recs:
            base = find(part.get("hooks", []), bench=r["bench"], config="direct")
            base = base.get("baseline_ns_median") if base else None
            share = f"{100 * r['ns_per_op'] / base:.1f}%" if base else "?"
            progs = ", ".join(f"{k} {v['calls_per_op']:.2f} × {v['ns_per_call']:,.0f}" for k, v in r["programs"].items())
            L.append(f"| {r['bench']} | {labels.get(r['config'], r['config'])} | {r['ns_per_op']:,.0f} | {share} | {progs or 'none ran'} |")
        L.append("")

    def table(part, kind, title, intro):
        recs = part.get(kind, [])
        if not recs:
            return
        labels = {c["config"]: c["label"] for c in part.get("configs", [])}
        L.extend([f"## {title}", "", intro, "",
                  "| load | configuration | ratio min / **median** / max | overhead (median) | baseline (median) |",
                  "| --- | --- | --- | --- | --- |"])
        for r in recs:
            if r["config"] == "direct":
                continue
            base = r.get("baseline_ns_median")
            unit = f"{base / 1e6:.2f} ms" if base and base > 1e6 else (f"{base / 1e3:.1f} µs" if base else "?")
            over = f"{pct(r['ratio']):+.1f}%" if r.get("ratio") else r.get("error", "n/a")
            L.append(f"| {r['bench']} | {labels.get(r['config'], r['config'])} | {fmt_ratio(r.get('ratio'))} | {over} | {unit} |")
        L.append("")

    table(vm, "hooks", "Hook overhead in the VM (BPF-LSM: exec, file; cgroup: connect)",
          "open+close of a tmpfs file, again and again; open+close of new tmpfs files, each once (made with "
          "mknod, untimed: dentries and inodes the kernel has not walked yet); a walk of 500 files in 10 "
          "directories (readdir + `fstatat` each, "
          "ns per entry); fork+exec of a static no-op program on tmpfs, and of `/bin/true` copied to tmpfs (its "
          "ld.so and libc still come from the 9p-shared root: slower, noisier); TCP connect to a loopback listener "
          "(closed with RST). Baseline is per operation, under TCG (about 50–100× slower than the host).")
    hook_time_table(vm)
    table(host, "hooks", "Hook overhead on the host (cgroup connect4/sendmsg4; this kernel refuses BPF-LSM)",
          "TCP connect to a loopback listener (closed with RST); UDP `sendto` on an unconnected socket.")
    hook_time_table(host)
    table(vm, "workloads", "Real workloads in the VM",
          f"`git status --porcelain` in a repository of {p['repo_files']:,} files in {p['repo_dirs']} directories, "
          f"and `make -B` of a C project of {p['proj_files']} files (gcc -O0 + link), both on tmpfs. "
          "Under `agent.yaml` every `git` exec is held for its argv rules and released by `ebguard run` "
          "(the policy's `ask` rules on git push/reset/clean), so that row includes the round trip. `held exec` "
          "isolates that round trip: fork+exec of a static no-op program named `git` on tmpfs.")

    L += ["## Policies loaded", "",
          "| where | configuration | status | ready after | ebguard RSS idle / peak | BPF map memlock added | map entries written (≈ key+value bytes) |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
    for part in (host, vm):
        for c in part.get("configs", []):
            if c["config"] == "direct":
                continue
            if c["status"] != "ok":
                L.append(f"| {c['where']} | {c['label']} | **failed**: {c['reason'][:300]} | | | | |")
                continue
            mem = f"{c['rss_kb'] / 1024:.1f} / {c['hwm_kb'] / 1024:.1f} MB"
            delta = c.get("bpf_memlock_delta")
            delta = "" if delta is None else f"{delta / 1024:,.0f} KiB" + (" (created the maps)" if c.get("maps_created") else "")
            ent = c.get("map_entries")
            ent = "" if not ent else (" + ".join(f"{v:,} {k.replace('eg_', '').replace('_rules', '')}" for k, v in ent.items())
                                      + f" (≈ {c['map_bytes_estimate'] / 1048576:.1f} MiB)")
            L.append(f"| {c['where']} | {c['label']} | ok | {c['ready_seconds']:.1f} s | "
                     f"{mem if c.get('policy') else '(' + mem + ', not ebguard)'} | {delta} | {ent} |")
    L += ["", "\"ready after\" is from starting `ebguard run` to the first answer of the governed worker: "
          "policy parse + compile + map writes (+ program load for the first session). "
          "RSS is `ebguard run`'s own (VmRSS idle, VmHWM peak). BPF memory is the change in the sum of "
          "`bpftool map show`'s memlock over ebguard's `eg_*` maps when the session started; "
          "kernels before 6.4 (the VM's 6.1) report memlock from `max_entries`, not use, so it does not move there, "
          "and the host's 6.18 reports 0 for the LPM tries. The last column is therefore computed: entries the "
          "session wrote × (key + value size from bpftool), without the kernel's per-element overhead. "
          "On the host only the network maps exist (no BPF-LSM), so path entries are compiled but not written.", ""]
    for part in (host, vm):
        tot = part.get("bpf_memlock_after", {})
        if "maps" in tot:
            maps = ", ".join(f"{k} {v / 1024:,.0f}" for k, v in sorted(tot["maps"].items()))
            L.append(f"- {part['where']}: ebguard maps with every session above loaded: {tot['total'] / 1024:,.0f} KiB "
                     f"memlock ({maps} KiB).")
    L.append("")

    if host.get("daemon", {}).get("command"):
        dm = host["daemon"]
        L += [f"The daemon's rows below: `{dm['command']}`, {dm.get('generated', '')}, `bin/ebguard` of commit "
              f"`{dm.get('commit', '?')}` (the rest of this report is from its own run).", ""]
    L += daemon_bench.render(host.get("daemon", {}), p)
    L += host_bench.render(host.get("hosts"), p)
    L += learn_bench.render(host.get("learn"), p)
    L += pattern_bench.render(vm.get("patterns"), p)
    L += unix_bench.render(vm.get("unix"), p)
    L += binary_size.render(res.get("binary"))
    L += ["## Limits found", ""]
    for n in p["tiers"]:
        if not tier_fits(p, n, "host"):
            L.append(f"- **{tier_label(*tier_split(n))}: MISS, cannot be loaded** (host and VM): "
                     f"{miss_reason(tier_split(n)[0], res.get('probe', {}), p['fit_path'])}. Measured instead: the largest that fits.")
    L += [f"- A tier of N rules is three fifths path rules (a quarter of them exec) and two fifths network rules: "
          f"{', '.join(tier_label(*tier_split(n)) for n in p['tiers'])}. A policy's path rules share one map of "
          f"{PATH_MAP_KEYS:,} keys with every other session's, and one domain (exec, file or network) holds at most "
          f"{RULE_INDEX_MAX:,} rules (16-bit rule numbers): 100,000 *path* rules in one policy cannot be loaded, and "
          "`ebguard policy check` says so with the first rule that does not fit.",
          "- Hook costs under TCG are relative to an emulated CPU; the host's own cost of the connect hooks is in "
          "the host table.", ""]
    return "\n".join(L)


# ------------------------------------------------------------------------------ main

def report_paths(profile, part):
    """The full run writes the committed reports; anything else stays in bench/.work."""
    if profile == "full" and part == "all":
        return ROOT / "bench" / "results.json", ROOT / "docs" / "benchmarks.md"
    return WORK / f"results-{profile}.json", WORK / f"benchmarks-{profile}.md"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--part", choices=["all", "host", "vm"], default="all")
    ap.add_argument("--ebguard", default=str(ROOT / "bin" / "ebguard"),
                    help="the binary to measure (default bin/ebguard; it is copied first)")
    ap.add_argument("--ebguard-commit", help="the commit that binary was built from (default: this tree's HEAD)")
    ap.add_argument("--only", choices=["patterns", "unix", "daemon"],
                    help="measure only these rows (patterns and unix in the VM, daemon on the host) and merge them "
                         "into the last results of the profile")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the reports from the last results JSON of this profile without measuring")
    args = ap.parse_args()
    p = PROFILES[args.profile]
    if args.render_only:
        json_path, md_path = report_paths(args.profile, "all")
        res = json.loads(json_path.read_text())
        write_reports(res, p, json_path, md_path)
        return 0
    if args.part == "vm":
        return vm_part(p, args.only)
    if os.geteuid() != 0:
        sys.exit("bench: needs root (ebguard run loads BPF programs and creates cgroups)")
    started = time.monotonic()
    # The hook workers are standalone sessions: a daemon listening on the default socket (an
    # installed ebguard.service) must not adopt them. The daemon part points at its own daemon.
    os.environ["EBGUARD_SOCKET"] = str(WORK / "no-daemon.sock")
    log(f"bench ({args.profile}): preparing inputs in {WORK.relative_to(ROOT)}")
    prepare_inputs(p, args.ebguard)
    try:
        res_binary = binary_size.measure(args.ebguard)
    except (OSError, subprocess.CalledProcessError) as e:
        res_binary = dict(error=str(e))
    if args.only:
        return only_rows(p, args)
    if "stripped" in res_binary:
        log(f"binary: {res_binary['unstripped'] / 1e6:.1f} MB as built, {res_binary['stripped'] / 1e6:.1f} MB stripped "
            f"(composition in the report)")
    res = dict(generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               profile=args.profile, command="make bench" if args.profile == "full" else "make bench-smoke",
               commit=args.ebguard_commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                            capture_output=True, text=True).stdout.strip(),
               binary=res_binary)
    if args.ebguard != str(ROOT / "bin" / "ebguard"):
        res["binary_note"] = " (given with `--ebguard`: built by `make bin/ebguard` in a clean checkout of that commit)"
    if args.part in ("all", "host"):
        log("host part")
        res["probe"] = {str(k): v for k, v in probe_oversize(p, str(WORK / "ebguard"), WORK / "policies").items()}
        res["host"] = host_part(p)
    if args.part in ("all", "vm"):
        res["vm"] = run_vm(p, args.profile)
    res["wall_seconds"] = time.monotonic() - started
    res["loadavg_end"] = os.getloadavg()
    json_path, md_path = report_paths(args.profile, args.part)
    write_reports(res, p, json_path, md_path)
    errors = [r for part in ("host", "vm") for r in res.get(part, {}).get("hooks", []) + res.get(part, {}).get("workloads", [])
              if r.get("error")]
    errors += [res[part]["error"] for part in ("host", "vm") if part in res and "error" in res[part]]
    # Policies that should fit but did not load, and daemon measurements that failed, are harness failures;
    # a MISS is not: CI runs the smoke profile and must only fail when the harness breaks.
    errors += [c for part in ("host", "vm") for c in res.get(part, {}).get("configs", [])
               if c["status"] != "ok" and (c.get("n_path") or 0) <= p["fit_path"]]
    errors += daemon_bench.errors(res.get("host", {}).get("daemon"))
    errors += host_bench.errors(res.get("host", {}).get("hosts"))
    errors += pattern_errors(res.get("vm", {}).get("patterns"))
    errors += unix_bench.errors(res.get("vm", {}).get("unix"))
    if errors:
        log(f"bench: {len(errors)} measurement(s) failed; see above")
        return 1
    return 0


def pattern_errors(pm):
    return [pm["error"]] if pm and "error" in pm else pattern_bench.errors(pm)


def only_rows(p, args):
    """`--only patterns|unix|daemon`: those rows alone, merged into this profile's last results (the rest of
    the report keeps its own run's date and commit; the rows say theirs)."""
    json_path, md_path = report_paths(args.profile, "all")
    if not json_path.exists():
        json_path, md_path = report_paths(args.profile, "vm")
    res = json.loads(json_path.read_text()) if json_path.exists() else dict(
        generated="", profile=args.profile, command="", commit="", wall_seconds=0, loadavg_end=[])
    started = time.monotonic()
    if args.only == "daemon":
        agent = ROOT / "policies" / "agent.yaml"
        rows = daemon_bench.daemon_part(p, str(WORK / "ebguard"), str(WORK / "loops"), dict(startup=agent, sessions=agent),
                                        WORK / "daemon", Worker, bpf_map_memlock)
    else:
        vm = run_vm(p, args.profile, args.only)
        rows = vm.get(args.only) or dict(error=vm.get("error", "no results"))
    rows.update(command=f"python3 bench/bench.py --profile {args.profile} --only {args.only}",
                generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                commit=args.ebguard_commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                             capture_output=True, text=True).stdout.strip(),
                wall_seconds=round(time.monotonic() - started))
    if args.only == "daemon":
        res.setdefault("host", {})["daemon"] = rows
    else:
        res.setdefault("vm", {})[args.only] = rows
    write_reports(res, p, json_path, md_path)
    errors = {"daemon": daemon_bench.errors, "patterns": pattern_errors, "unix": unix_bench.errors}[args.only](rows)
    for e in errors:
        log(f"bench: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
