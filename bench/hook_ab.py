#!/usr/bin/env python3
"""A/B of the time a governed open spends in eg_file_open, between ebguard binaries built from
different BPF code: the kernel's BPF statistics (run_time_ns / run_cnt), not wall time, so the
machine's drift matters less. The binaries take turns in one VM, round after round; each `ebguard
run` of a new build detaches the other build's programs (idle generations are removed), and the
newest eg_file_open is the one measured.

  scripts/vmtest -- python3 bench/hook_ab.py ROUNDS EBGUARD_A EBGUARD_B ...

Loads: `open` (one tmpfs file, again and again) and `openfirst` (new files, each opened once), from
bench/loops.c (build it first: `make bench-smoke` leaves it in bench/.work/loops). Prints the median
ns per call of eg_file_open for each binary and load. Binaries must be outside /tmp (the guest's
/tmp is its own).
"""
import statistics
import subprocess
import sys
from pathlib import Path

from bench import bpf_prog_stats

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/hook-ab")
POLICY = """version: 1
name: hook-ab
defaults: {exec: allow, file: allow, network: deny}
file:
  - { action: deny, path: /opt/hook-ab-nothing/** }
  - { action: deny, name: secret-hook-ab, access: [read] }
"""


def file_open_stats():
    """(id, run_time_ns, run_cnt) of the newest eg_file_open: the build loaded last."""
    stats = bpf_prog_stats()
    ids = [pid for pid, (name, _, _) in stats.items() if name == "eg_file_open"]
    if not ids:
        sys.exit("hook_ab: no eg_file_open is loaded (BPF-LSM refused? run it in scripts/vmtest)")
    _, ns, count = stats[max(ids)]
    return max(ids), ns, count


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit(f"hook_ab: want ROUNDS (a positive number) and one or more ebguard binaries\n{__doc__}")
    rounds, binaries = int(sys.argv[1]), sys.argv[2:]
    for binary in binaries:
        if not Path(binary).is_file():
            sys.exit(f"hook_ab: {binary}: no such file")
    (WORK / "first").mkdir(parents=True, exist_ok=True)
    (WORK / "file").write_text("x\n")
    (WORK / "policy.yaml").write_text(POLICY)
    loops = str(ROOT / "bench" / ".work" / "loops")
    Path("/proc/sys/kernel/bpf_stats_enabled").write_text("1\n")
    loads = (["open", str(WORK / "file"), "20000"], ["openfirst", str(WORK / "first"), "3000"])
    results = {}
    for _ in range(rounds):
        for binary in binaries:
            run = [binary, "run", "--quiet", "--policy", str(WORK / "policy.yaml"), "--", loops]
            subprocess.run(run + ["open", str(WORK / "file"), "1"], capture_output=True, check=True)  # loads it
            for load in loads:
                id0, ns0, cnt0 = file_open_stats()
                subprocess.run(run + load, capture_output=True, check=True)
                id1, ns1, cnt1 = file_open_stats()
                if id0 != id1 or cnt1 <= cnt0:
                    sys.exit(f"{binary}: eg_file_open changed or did not run during {load[0]}")
                results.setdefault((binary, load[0]), []).append((ns1 - ns0) / (cnt1 - cnt0))
    for (binary, load), values in sorted(results.items()):
        print(f"{binary}  {load:10} eg_file_open ns/call median {statistics.median(values):8,.0f}  "
              f"rounds {[round(v) for v in values]}")


if __name__ == "__main__":
    main()
