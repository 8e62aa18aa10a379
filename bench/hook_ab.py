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
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

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
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "name", "eg_file_open"],
                                      capture_output=True, text=True, check=True).stdout)
    progs = [progs] if isinstance(progs, dict) else progs
    newest = max(progs, key=lambda p: p["id"])
    return newest["id"], newest.get("run_time_ns", 0), newest.get("run_cnt", 0)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, binaries = int(sys.argv[1]), sys.argv[2:]
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
