"""Learn benchmarks (issue 19), part of `make bench`: `ebguard policy suggest` and `policy replay`
over an audit trail of `learn_events` decisions (100,000 in the full profile), as a learn session
records them: file reads and writes under the workspace, the home's caches, /usr and /tmp, execs,
connects by host name and by address, lookups; a tenth of them summaries of repeats.

The trail is written here in the audit format (docs/audit.md: canonical JSON, chained) and read
by the binary with EbguardAudit's reader, as `--from-audit FILE` does for a real trail.
Target: each command under 5 s on the host.
"""
import hashlib
import json
import random
import subprocess
import time
from pathlib import Path

SESSION = "bench-0a1b2c3d"
HOME, WORKSPACE = "/home/bench", "/home/bench/proj"


def log(msg):
    print(msg, flush=True)


def _decision(i, rnd):
    r = rnd.random()
    d = dict(session=SESSION, pid=1000 + i % 50, rule="default", verdict="audit")
    if r < 0.45:
        d.update(kind="file", access="read", comm="cc1", exe="/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
                 object=f"{WORKSPACE}/src/m{rnd.randrange(50)}/f{rnd.randrange(100)}.c")
    elif r < 0.60:
        d.update(kind="file", access="read,exec", comm="ld", exe="/usr/bin/ld",
                 object=f"/usr/lib/x86_64-linux-gnu/lib{rnd.randrange(400)}.so")
    elif r < 0.70:
        d.update(kind="file", access="write,create", comm="cc1", exe="/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
                 object=f"/tmp/cc{rnd.randrange(5000)}.s")
    elif r < 0.78:
        d.update(kind="file", access="read,write,create", comm="pip", exe="/usr/bin/python3.11",
                 object=f"{HOME}/.cache/pip/http/{rnd.randrange(16):x}/{rnd.randrange(2000)}")
    elif r < 0.85:
        d.update(kind="file", access="write,create", comm="ld", exe="/usr/bin/ld",
                 object=f"{WORKSPACE}/build/obj{rnd.randrange(500)}.o")
    elif r < 0.92:
        prog = f"/usr/bin/tool{rnd.randrange(60)}"
        d.update(kind="exec", access="exec", comm=prog.rsplit("/", 1)[1], exe=prog, object=prog)
    elif r < 0.97:
        host = f"h{rnd.randrange(40)}.registry.example"
        addr = f"10.0.{rnd.randrange(40)}.{rnd.randrange(1, 250)}"
        d.update(kind="network", access="connect", comm="curl", exe="/usr/bin/curl", object=f"{addr}:443/tcp",
                 network=dict(address=addr, port=443, transport="tcp", hostname=host))
    elif r < 0.99:
        host = f"h{rnd.randrange(40)}.registry.example"
        d.update(kind="network", access="resolve", comm="curl", object=f"{host}/A",
                 network=dict(port=53, transport="dns", hostname=host))
    else:
        d.update(kind="file", access="read", comm="cat", exe="/usr/bin/cat", object=f"{HOME}/.ssh/id_ed25519")
    if i % 10 == 9:
        d.update(repeats=rnd.randrange(1, 50), first_time="2026-12-01T00:00:00.000000Z",
                 last_time="2026-12-01T00:00:01.000000Z")
    return d


def write_trail(path, n, seed=19):
    rnd = random.Random(seed)
    prev = "0" * 64
    host = dict(machine_id="0" * 32, name="bench")
    with open(path, "w") as f:
        for seq in range(1, n + 2):
            if seq == 1:
                typ, data = "session_start", dict(session=SESSION, policy="learn", policy_sha256="0" * 64,
                                                  command=["make", "test"])
            else:
                typ, data = "decision", _decision(seq, rnd)
            rec = dict(v=1, seq=seq, time=f"2026-12-01T00:{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}.{seq % 1000:03d}000Z",
                       host=host, prev=prev, type=typ, data=data)
            line = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            prev = hashlib.sha256(line.encode()).hexdigest()
            f.write(line + "\n")


def _timed(argv, ok=(0,)):
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    dt = time.monotonic() - t
    if r.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv[:3])} exited {r.returncode}: {r.stderr.strip()[:300]}")
    return dt, r


def learn_part(p, ebguard, root, work):
    """Measures; returns the record bench.py keeps under host.learn."""
    n = p["learn_events"]
    work.mkdir(parents=True, exist_ok=True)
    trail, out_policy = work / "trail.jsonl", work / "learned.yaml"
    try:
        write_trail(trail, n)
        ctx = ["--from-audit", str(trail), "--session", "bench", "--home", HOME, "--workspace", WORKSPACE]
        base = str(Path(root) / "policies" / "agent.yaml")
        res = dict(events=n, trail_bytes=trail.stat().st_size, suggest=[], replay=[])
        for _ in range(p["rounds"] if p["rounds"] < 3 else 3):
            dt, r = _timed([ebguard, "policy", "suggest", *ctx, "--base", base, "-o", str(out_policy)])
            res["suggest"].append(dt)
            # The learned policy replays clean except the withheld ~/.ssh read (exit 1).
            dt, r = _timed([ebguard, "policy", "replay", str(out_policy), *ctx, "--json"], ok=(0, 1))
            res["replay"].append(dt)
        summary = json.loads(r.stdout)
        res["replay_would_deny"] = len(summary["would_deny"])
        res["rules"] = sum(1 for line in out_policy.read_text().splitlines() if line.startswith("  - "))
        log(f"  [host] learn: {n:,} events: suggest {min(res['suggest']):.2f} s, replay {min(res['replay']):.2f} s, "
            f"{res['rules']} rules")
        return res
    except Exception as e:  # a failure is reported as a MISS, never hidden
        return dict(events=n, error=str(e)[:500])


def evaluate(lm, add):
    if not lm:
        return
    if "error" in lm:
        add("policy suggest/replay over a recorded trail (host)", "≤ 5 s", "failed", "MISS", lm["error"][:200])
        return
    for what in ("suggest", "replay"):
        v = min(lm[what])
        add(f"policy {what} over {lm['events']:,} events (host)", "≤ 5 s", f"{v:.2f} s", "PASS" if v <= 5 else "MISS",
            f"trail {lm['trail_bytes'] / 1e6:.1f} MB" + (f", {lm['rules']} rules" if what == "suggest" else ""))


def render(lm, p):
    if not lm:
        return []
    L = ["## Learn: suggest and replay (host)", ""]
    if "error" in lm:
        return L + [f"- failed: {lm['error']}", ""]
    L += [f"An audit trail of {lm['events']:,} decisions of one session ({lm['trail_bytes'] / 1e6:.1f} MB; "
          "bench/learn_bench.py says what they are), read with `--from-audit`. Best of "
          f"{len(lm['suggest'])} runs, wall time of the whole command:", "",
          "| command | seconds |", "| --- | --- |",
          f"| `ebguard policy suggest` ({lm['rules']} rules written) | {min(lm['suggest']):.2f} |",
          f"| `ebguard policy replay` of that policy, `--json` ({lm['replay_would_deny']} would-deny rows) | {min(lm['replay']):.2f} |", ""]
    return L
