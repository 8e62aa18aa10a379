"""The daemon's measurements for bench.py (host part; issue #7 items 3-5):

  pipeline  a governed generator makes denied UDP connects (one event each) at increasing paced
            rates; the daemon decodes, enriches and writes them as JSON lines to one
            `ebguard events --follow -o json` subscriber whose stdout is a file. Per rate:
            events offered, delivered to the file, lost in the kernel (status lost_total),
            dropped for a slow subscriber (status subscriber_drops), and the daemon's CPU.
  startup   `ebguard run -- /bin/true` with no daemon (standalone) and with a running daemon,
            against /bin/true alone, interleaved.
  memory    the daemon's RSS idle and with N concurrent sessions (`ebguard run -- sleep`), and
            the BPF map memory a session adds (bpftool memlock).

Every daemon here runs from a scratch --state-dir and every client is pointed at its socket
through EBGUARD_SOCKET, so a daemon someone else runs on the machine is never measured.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

SESSION_BATCH = 10
PORT_DENY = 47314                 # denied connects to DENY_ADDR:PORT_DENY are the pipeline's events
SPREAD_PORT = 1024                # the distinct-denials step: ports SPREAD_PORT + i for i < n
DENY_ADDR = "127.0.0.3"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DENY_POLICY = ("version: 1\nname: bench-deny\n"
               "defaults: {exec: allow, file: allow, network: deny}\n")


def log(msg):
    print(msg, flush=True)


def proc_status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of every thread of `pid` (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def runqueue_wait_seconds(pid):
    """Time the threads of `pid` spent runnable but waiting for a CPU (/proc/PID/task/*/schedstat,
    second field): on a shared machine, loss with a daemon waiting here is CPU starvation."""
    total = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((t / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


class Daemon:
    """`ebguard daemon --state-dir DIR --config WORK/ebguard.yaml` with its log in WORK, stopped
    with SIGTERM. Its audit log (every denial is a hash-chained record, fsync'd in batches) is a
    fresh one in WORK/audit on the same disk as /var/log: the host's own trail is left alone."""

    def __init__(self, ebguard, work):
        self.ebguard = ebguard
        self.state = Path(f"/run/ebguard-bench-{os.getpid()}")
        self.socket = str(self.state / "ebguard.sock")
        self.env = dict(os.environ, EBGUARD_SOCKET=self.socket)
        self.work = work
        self.log = open(work / "daemon.log", "w")
        shutil.rmtree(self.state, ignore_errors=True)
        self.audit_dir = work / "audit"
        shutil.rmtree(self.audit_dir, ignore_errors=True)
        config = work / "ebguard.yaml"
        config.write_text(f"version: 1\naudit:\n  path: {self.audit_dir / 'audit.jsonl'}\n"
                          f"  forward_state_dir: {self.audit_dir / 'forward'}\n")
        self.proc = subprocess.Popen([ebguard, "daemon", "--state-dir", str(self.state), "--config", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ebguard daemon exited {self.proc.returncode}: {self.log_tail()}")
            try:
                self.status()
                return
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"ebguard daemon did not answer within 60 s: {self.log_tail()}")

    def log_tail(self):
        self.log.flush()
        return " / ".join((self.work / "daemon.log").read_text().splitlines()[-3:])

    def ctl(self, *args):
        r = subprocess.run([self.ebguard, *args], env=self.env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"ebguard {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return json.loads(r.stdout)

    def status(self):
        return self.ctl("status", "--json")

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmRSS"), proc_status_kb(self.pid, "VmHWM")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.state, ignore_errors=True)


def other_daemons(mine):
    """`ebguard daemon` processes this harness did not start: they compete for the CPU, and one
    built from the same BPF objects reads the same shared ring buffer (events it takes are
    counted here as unaccounted)."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and int(d.name) != mine and (d / "comm").read_text().strip() == "ebguard" \
                    and b"daemon" in (d / "cmdline").read_bytes().split(b"\0")[1:2]:
                pids.append(int(d.name))
        except (OSError, IndexError):
            pass
    return pids


# ------------------------------------------------------------------------------ pipeline

class JSONFile:
    """Counts the pipeline's events in the subscriber's output as it grows."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.events = 0
        self.lines = 0

    def poll(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        marker = f'"object":"{DENY_ADDR}:'.encode()   # any port: the distinct step spreads them
        for line in lines:
            self.lines += 1
            if marker in line and b'"kind":"network"' in line:
                self.events += 1
        return self.events


def pipeline(p, daemon, worker_class, loops, work):
    q = p["daemon"]
    log("  [host] daemon pipeline: denied connects -> eg_events -> daemon -> events --follow -o json > file")
    policy = work / "deny.yaml"
    policy.write_text(DENY_POLICY)
    direct = float(subprocess.run([loops, "denyrate", DENY_ADDR, str(PORT_DENY), str(q["pipeline_direct_n"]), "0"],
                                  check=True, capture_output=True, text=True).stdout.split()[3])
    out_path, err_path = work / "events.jsonl", work / "events.err"
    sub = subprocess.Popen([daemon.ebguard, "events", "--follow", "-o", "json"], env=daemon.env,
                           stdout=open(out_path, "wb"), stderr=open(err_path, "w"))
    gen = None
    try:
        deadline = time.monotonic() + 30
        while daemon.status()["subscribers"] < 1:
            if time.monotonic() > deadline or sub.poll() is not None:
                raise RuntimeError(f"the events subscriber did not attach: {err_path.read_text()[-300:]}")
            time.sleep(0.05)
        gen = worker_class("daemon-gen", [daemon.ebguard, "run", "--quiet", "--policy", str(policy), "--name",
                                          "bench-gen", "--", loops, "serve"], str(work), env=daemon.env)
        counter = JSONFile(out_path)
        load = os.getloadavg()
        idle = idle_cpu(daemon.pid)
        steps = []
        for rnd in range(q["pipeline_rounds"]):
            for rate in q["pipeline_rates"]:
                n = q["pipeline_flat_n"] if rate == 0 else max(q["pipeline_min_n"], int(rate * q["pipeline_seconds"]))
                if rate == q["cpu_rate"]:
                    n = max(n, int(rate * q["cpu_seconds"]))
                step = pipeline_step(daemon, gen, sub, counter, err_path, rate, n)
                step["round"] = rnd + 1
                steps.append(step)
                log(f"  [host] round {rnd + 1} rate {rate or 'max'}: generated {step['achieved_per_s']:,.0f}/s, "
                    f"delivered {step['delivered']:,}/{n:,}, kernel lost {step['kernel_lost']:,}, "
                    f"subscriber drops {step['subscriber_drops']:,}, daemon CPU {step['daemon_cpu_pct']:.1f}%")
            # The same rate with every denial different (another port each): none is a repeat the
            # audit log may count instead of writing, so each costs a whole record (docs/audit.md).
            n = int(q["cpu_rate"] * q["cpu_seconds"])
            step = pipeline_step(daemon, gen, sub, counter, err_path, q["cpu_rate"], n, span=n)
            step["round"], step["distinct"] = rnd + 1, True
            steps.append(step)
            log(f"  [host] round {rnd + 1} rate {q['cpu_rate']} distinct: delivered {step['delivered']:,}/{n:,}, "
                f"daemon CPU {step['daemon_cpu_pct']:.1f}%")
    finally:
        if gen:
            gen.close()
        sub.terminate()
        sub.wait()
    return summarize(steps, q, direct, idle, other_daemons(daemon.pid), load)


def events_ring_bytes():
    """Size of the shared ring `eg_events`, as bpf/lib/maps.h declares it (0 if not found)."""
    text = (Path(__file__).resolve().parent.parent / "bpf" / "lib" / "maps.h").read_text()
    m = re.search(r"max_entries, ([0-9 *<]+)\);[^}]*\} eg_events SEC", text)
    return eval(m.group(1), {}) if m and re.fullmatch(r"[0-9 *<]+", m.group(1)) else 0


def idle_cpu(pid, seconds=2.0):
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def pipeline_step(daemon, gen, sub, counter, err_path, rate, n, span=1):
    s0 = daemon.status()
    seen0, notices0 = counter.poll(), drop_notices(err_path)
    c0, sc0, w0 = cpu_seconds(daemon.pid), cpu_seconds(sub.pid), runqueue_wait_seconds(daemon.pid)
    t0 = time.monotonic()
    port = PORT_DENY if span == 1 else SPREAD_PORT
    reply = gen.ask(f"denyrate {DENY_ADDR} {port} {n} {rate} {span}", timeout=300)
    gen_seconds = time.monotonic() - t0
    c_gen, w_gen = cpu_seconds(daemon.pid), runqueue_wait_seconds(daemon.pid)
    # Drained when nothing new reached the file or the daemon's counters for half a second.
    last, stable_since, deadline = None, time.monotonic(), time.monotonic() + 60
    while time.monotonic() < deadline:
        s1 = daemon.status()
        now = (counter.poll(), s1["events_total"], s1["lost_total"], s1["subscriber_drops"])
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 0.5:
            break
        if now[0] - seen0 >= n:
            break
        time.sleep(0.1)
    c1, sc1 = cpu_seconds(daemon.pid), cpu_seconds(sub.pid)
    delivered = counter.poll() - seen0
    lost = s1["lost_total"] - s0["lost_total"]
    drops = s1["subscriber_drops"] - s0["subscriber_drops"]
    mine = drop_notices(err_path) - notices0
    published = s1["events_total"] - s0["events_total"]
    return dict(requested_per_s=rate, offered=n, denied=int(reply[3]), achieved_per_s=reply[2],
                generator_seconds=gen_seconds, delivered=delivered, kernel_lost=lost, subscriber_drops=drops,
                file_subscriber_drops=mine, unaccounted=max(0, n - lost - published),
                daemon_events=published,
                # The daemon's CPU while the generator ran, and all it spent on the step (drain included).
                daemon_cpu_pct=100 * (c_gen - c0) / gen_seconds, daemon_cpu_seconds=c1 - c0,
                subscriber_cpu_seconds=sc1 - sc0, daemon_runqueue_wait_pct=100 * (w_gen - w0) / gen_seconds,
                daemon_us_per_event=1e6 * (c1 - c0) / published if published else None,
                subscriber_us_per_event=1e6 * (sc1 - sc0) / delivered if delivered else None,
                drain_seconds=time.monotonic() - t0 - gen_seconds)


def drop_notices(err_path):
    """Events the daemon told this subscriber it dropped ("lost N events: this subscriber fell behind")."""
    total = 0
    for line in err_path.read_text().splitlines():
        words = line.split()
        if "lost" in words and "subscriber" in line:
            try:
                total += int(words[words.index("lost") + 1])
            except (ValueError, IndexError):
                pass
    return total


def lossless(s):
    """Every event offered reached the JSON file (so this subscriber missed none) and the kernel
    lost none. Drops to the session's own `ebguard run` (it prints denials) are reported apart."""
    return s["delivered"] == s["offered"] and s["kernel_lost"] == 0


def summarize(steps, q, direct, idle, others, load):
    """Per rate over the rounds: lossless only if every round was; the rate counts as requested
    when the generator kept within 0.5% of it (else as achieved, the worst round)."""
    rates = []
    distinct = [s for s in steps if s.get("distinct")]
    steps_same = [s for s in steps if not s.get("distinct")]
    for rate in q["pipeline_rates"]:
        mine = [s for s in steps_same if s["requested_per_s"] == rate]
        achieved = min(s["achieved_per_s"] for s in mine)
        held = rate and achieved >= 0.995 * rate
        rates.append(dict(requested_per_s=rate, effective_per_s=rate if held else achieved,
                          lossless=all(lossless(s) for s in mine)))
    ok = [r["effective_per_s"] for r in rates if r["lossless"]]
    lossy = sorted(r["effective_per_s"] for r in rates if not r["lossless"])
    cpu = [s["daemon_cpu_pct"] for s in steps_same if s["requested_per_s"] == q["cpu_rate"]]
    return dict(steps=steps, rates=rates, ungoverned_generator_per_s=direct, idle_daemon_cpu_pct=idle,
                best_lossless_per_s=max(ok) if ok else 0.0, loss_starts_per_s=lossy[0] if lossy else None,
                cpu_rate=q["cpu_rate"], daemon_cpu_pct_at_rate=statistics.median(cpu) if cpu else None,
                daemon_cpu_pct_distinct=statistics.median(s["daemon_cpu_pct"] for s in distinct) if distinct else None,
                distinct_lossless=all(lossless(s) for s in distinct) if distinct else None,
                other_daemons=len(others), event_bytes=216 + 8, ring_buffer_bytes=events_ring_bytes(), loadavg=load)


# ------------------------------------------------------------------------------ start-up

def startup(p, daemon, policy, work):
    """Wall time of `ebguard run --quiet -- /bin/true`: no daemon (EBGUARD_SOCKET names a socket
    nobody listens on, so `run` goes standalone) vs the running daemon, against /bin/true."""
    log("  [host] start-up: ebguard run -- /bin/true, standalone and with the daemon, vs /bin/true")
    nobody = dict(os.environ, EBGUARD_SOCKET=str(work / "no-daemon.sock"))
    argv = [daemon.ebguard, "run", "--quiet", "--policy", str(policy), "--", "/bin/true"]
    runs = {"/bin/true": (["/bin/true"], None), "ebguard run, no daemon": (argv, nobody),
            "ebguard run, with the daemon": (argv, daemon.env)}
    times = {k: [] for k in runs}
    for _ in range(p["rounds"]):
        for k, (cmd, env) in runs.items():
            reps = []
            for _ in range(p["startup_reps"]):
                t = time.perf_counter()
                r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                reps.append(time.perf_counter() - t)
                if r.returncode != 0:
                    raise RuntimeError(f"{k}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
            times[k].append(statistics.median(reps))
    base = times["/bin/true"]
    res = []
    for k, vals in times.items():
        ratios = [v / b for v, b in zip(vals, base)]
        added = [(v - b) * 1000 for v, b in zip(vals, base)]
        res.append(dict(command=k, policy=policy.name, seconds=vals,
                        ratio=dict(min=min(ratios), median=statistics.median(ratios), max=max(ratios)),
                        added_ms=dict(min=min(added), median=statistics.median(added), max=max(added))))
    return res


# ------------------------------------------------------------------------------ memory

def memory(p, daemon, policy, map_memlock):
    """RSS with N concurrent sessions, each an `ebguard run -- sleep` registered with the daemon."""
    n = p["daemon"]["sessions"]
    log(f"  [host] daemon memory: {n} concurrent sessions (ebguard run -- sleep)")
    before_maps = map_memlock()
    base = len(daemon.status()["sessions"])
    procs = []
    res = dict(sessions=n, policy=policy.name, rss_before_kb=daemon.rss_kb()[0])
    try:
        # In batches: each starting `run` opens up to three connections (probe, status, register) and the
        # daemon serves at most 128 at once; once up, a session holds one.
        deadline = time.monotonic() + 60 + 2 * n   # each `run` compiles its policy, and so does the daemon
        for first in range(0, n, SESSION_BATCH):
            for i in range(first, min(n, first + SESSION_BATCH)):
                procs.append(subprocess.Popen([daemon.ebguard, "run", "--quiet", "--policy", str(policy), "--name",
                                               f"bench-mem-{i}", "--", "sleep", "600"], env=daemon.env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            while True:
                st = daemon.status()
                live = [s for s in st["sessions"] if s["name"].startswith("bench-mem-") and s["processes"] > 0]
                if len(live) >= len(procs):
                    break
                dead = [q for q in procs if q.poll() is not None]
                if dead or time.monotonic() > deadline:
                    why = dead[0].stderr.read().strip().splitlines()[-1:] if dead else ""
                    raise RuntimeError(f"{len(live)}/{len(procs)} sessions came up ({len(dead)} `ebguard run` exited: "
                                       f"{why})")
                time.sleep(0.2)
        time.sleep(1)   # a tick of the daemon's loop with every session in place
        res["rss_kb"], res["hwm_kb"] = daemon.rss_kb()
        after_maps = map_memlock()
        if "total" in before_maps and "total" in after_maps:
            res["bpf_memlock_delta"] = after_maps["total"] - before_maps["total"]
            res["bpf_memlock_per_session"] = res["bpf_memlock_delta"] / n
            res["bpf_memlock_maps_delta"] = {k: v - before_maps["maps"].get(k, 0) for k, v in after_maps["maps"].items()
                                             if v != before_maps["maps"].get(k, 0)}
        rss = [proc_status_kb(q.pid, "VmRSS") for q in procs if q.poll() is None]
        res["run_client_rss_kb_median"] = statistics.median(rss) if rss else None
        # Ending them as users do: the command exits, `ebguard run` ends its session.
        end_commands(live)
        for q in procs:
            q.wait(60)
        deadline = time.monotonic() + 30
        while len(daemon.status()["sessions"]) > base and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        res["rss_after_kb"] = daemon.rss_kb()[0]
        res["sessions_left"] = len(daemon.status()["sessions"]) - base
    finally:
        if any(q.poll() is None for q in procs):
            try:
                end_commands([s for s in daemon.status()["sessions"] if s["name"].startswith("bench-mem-")])
            except Exception:
                pass
        for q in procs:
            if q.poll() is None:
                q.kill()
                q.wait()
    return res


def end_commands(sessions):
    """SIGTERM to every process in these sessions' cgroups (the `sleep` commands)."""
    for s in sessions:
        try:
            pids = Path(s["cgroup"], "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


# ------------------------------------------------------------------------------ the part

def daemon_part(p, ebguard, loops, policies, work, worker_class, map_memlock, parts=("startup", "memory", "pipeline")):
    """One scratch daemon for every daemon measurement; failures become an `error`, not a crash.
    `parts` picks which measurements run after the idle RSS (all by default, as `make bench`)."""
    work.mkdir(parents=True, exist_ok=True)
    out = {}
    # A daemon that finds this build's programs pinned (the sessions above pinned them) only opens
    # them; loading them itself parses the objects and costs it several MB more.
    def pinned():
        return {str(x.parent) for x in Path("/sys/fs/bpf/ebguard").glob("*/link-*")}
    before = pinned()
    try:
        daemon = Daemon(ebguard, work)
    except Exception as e:
        log(f"  [host] daemon: FAILED to start: {e}")
        return dict(error=f"daemon: {e}")
    try:
        time.sleep(2)
        out["rss_idle_kb"], out["hwm_idle_kb"] = daemon.rss_kb()
        out["mode"] = daemon.status().get("mode")
        out["loaded_programs"] = bool(pinned() - before)
        log(f"  [host] daemon idle: RSS {out['rss_idle_kb'] / 1024:.1f} MB ({out['mode']})")
        # Sessions before the pipeline: its backlog and subscriber buffers would be in their RSS.
        for name, fn in (("startup", lambda: startup(p, daemon, policies["startup"], work)),
                         ("memory", lambda: memory(p, daemon, policies["sessions"], map_memlock)),
                         ("pipeline", lambda: pipeline(p, daemon, worker_class, loops, work))):
            if name not in parts:
                continue
            try:
                out[name] = fn()
            except Exception as e:
                log(f"  [host] daemon {name}: FAILED: {e}")
                out.setdefault("errors", []).append(f"{name}: {e}")
        out["rss_end_kb"], out["hwm_end_kb"] = daemon.rss_kb()
    finally:
        daemon.stop()
    return out


# ------------------------------------------------------------------------------ report

def errors(dm):
    """Harness failures (not MISSes): the daemon did not start, a measurement raised, or the
    generator's connects were not denied (then the pipeline measured nothing)."""
    if dm is None:
        return []
    out = [dm["error"]] if "error" in dm else []
    out += dm.get("errors", [])
    out += [f"pipeline step at {s['requested_per_s']}/s: {s['denied']} of {s['offered']} connects denied"
            for s in dm.get("pipeline", {}).get("steps", []) if s["denied"] != s["offered"]]
    return out


def evaluate(dm, add):
    """The issue's daemon targets, as PASS/MISS rows (add(name, target, value, verdict, note))."""
    pl = dm.get("pipeline")
    if pl:
        v = pl["best_lossless_per_s"]
        start = pl["loss_starts_per_s"]
        add("event pipeline, lossless (host daemon)", "≥ 250,000 events/s", f"{v:,.0f} events/s",
            "PASS" if v >= 250000 else "MISS",
            "highest offered rate at which every event reached the JSON-lines subscriber's file in every round "
            "and the kernel lost none; " + (f"loss starts at {start:,.0f}/s" if start else "no step lost events"))
        c = pl["daemon_cpu_pct_at_rate"]
        if c is not None:
            add(f"daemon CPU at {pl['cpu_rate']:,} events/s (host)", "≤ 5% of a core", f"{c:.1f}%",
                "PASS" if c <= 5 else "MISS", "utime+stime from /proc/PID/stat while the generator ran; the same "
                "denial repeated, so the audit log counts the repeats (docs/audit.md)")
        c = pl.get("daemon_cpu_pct_distinct")
        if c is not None:
            add(f"daemon CPU at {pl['cpu_rate']:,} distinct events/s (host)", "≤ 5% of a core", f"{c:.1f}%",
                "PASS" if c <= 5 else "MISS", "every denial to another port, so each is a whole audit record")
    st = dm.get("startup")
    if st:
        with_d = next(s for s in st if s["command"].endswith("with the daemon"))
        alone = next(s for s in st if s["command"].endswith("no daemon"))
        v = with_d["added_ms"]["median"]
        add("`ebguard run -- /bin/true` start-up (host), with a running daemon", "≤ 30 ms added", f"+{v:.0f} ms",
            "PASS" if v <= 30 else "MISS", f"without a daemon +{alone['added_ms']['median']:.0f} ms; policy {with_d['policy']}")
    if "rss_idle_kb" in dm:
        mb = dm["rss_idle_kb"] / 1024
        add("daemon RSS idle (host)", "≤ 40 MB", f"{mb:.1f} MB", "PASS" if mb <= 40 else "MISS",
            "VmRSS 2 s after start, no session")


def render(dm, p):
    """The daemon's sections of docs/benchmarks.md."""
    if not dm:
        return []
    L = []
    if "error" in dm or dm.get("errors"):
        L += ["## Daemon (host): failed", ""] + [f"- {e}" for e in errors(dm)] + [""]
    st = dm.get("startup")
    if st:
        L += ["## Start-up (host)", "",
              f"Wall time of a whole `ebguard run --quiet --policy {st[0]['policy']} -- /bin/true` against `/bin/true` "
              "alone, interleaved, each the median of "
              f"{p['startup_reps']} per round over {p['rounds']} rounds. *No daemon*: `EBGUARD_SOCKET` names a socket "
              "nobody listens on, so `run` parses and compiles the policy, opens the pinned programs and writes the "
              "maps itself. *With the daemon*: `run` reads the policy file and registers the session over one "
              "connection (the daemon parses and compiles the text, once per distinct text, and writes the maps; its "
              "answer says what the command gets: no_new_privs, capabilities, and how the daemon runs), spawns the "
              "command, then ends the session through the daemon and waits for its end event.", "",
              "| command | ratio to /bin/true min / **median** / max | added ms min / **median** / max |",
              "| --- | --- | --- |"]
        for s in st[1:]:
            a = s["added_ms"]
            L.append(f"| {s['command']} | {fmt_ratio(s['ratio'])} | {a['min']:.0f} / **{a['median']:.0f}** / {a['max']:.0f} |")
        L.append("")
    pl = dm.get("pipeline")
    if pl:
        q = p["daemon"]
        L += ["## Event pipeline (host daemon)", "",
              f"A scratch `ebguard daemon --state-dir` and one `ebguard events --follow -o json` subscriber whose "
              "stdout is a file. A governed generator (`ebguard run --quiet` with `defaults: {network: deny}`, "
              f"registered with that daemon) makes UDP `connect()` calls to {DENY_ADDR}:{PORT_DENY}: each is denied by "
              f"`cgroup/connect4` and makes one event ({pl['event_bytes']} bytes with its ring header) in the shared "
              f"ring buffer `eg_events` ({pl['ring_buffer_bytes'] >> 10} KiB, about "
              f"{pl['ring_buffer_bytes'] // pl['event_bytes']:,} events). The daemon decodes, enriches (process facts, "
              "rule location) and writes each as a JSON line to the subscriber (the session's own `ebguard run --quiet` "
              "is sent only its session's notes), and records the denials in its hash-chained audit log (a fresh one in "
              "the work directory, fsync'd every 100 ms or 1,024 records). Within a step every event is the same "
              "denial, so the audit log writes the first in full and counts the repeats, one record a second "
              "(docs/audit.md), and the daemon publishes each repeat from the line of the one before, with its own "
              "number and time, without decoding it again (docs/events.md); the *distinct* steps send each connect "
              "to another port, so every denial is decoded, rendered and a whole audit record. "
              f"The generator paces itself in small batches and sleeps in between; each rate runs "
              f"{q['pipeline_seconds']} s ({q['cpu_rate']:,}/s: {q['cpu_seconds']} s), {q['pipeline_rounds']} round(s), "
              f"flat out (rate 0) {q['pipeline_flat_n']:,} events. Ungoverned, the same generator makes "
              f"{pl['ungoverned_generator_per_s']:,.0f} connects/s.", "",
              "*published*: events the daemon decoded and published (`events_total` delta); *delivered*: the "
              "events in the JSON file; *kernel lost*: `lost_total` delta (the ring was full); *dropped*: "
              "`subscriber_drops` delta, over every subscriber (the file's and the session's `ebguard run`): one fell "
              "more than 4 MiB behind; *unaccounted*: offered − lost − published (another reader of `eg_events`, e.g. "
              "a second daemon built from the same objects). *daemon CPU*: utime+stime from `/proc/PID/stat` while "
              "the generator ran, in % of one core; *waiting*: the daemon's time runnable but without a CPU "
              "(`schedstat`) in the same window: high means a busy machine starved it. *µs/event*: all CPU the "
              "daemon (and the subscriber) spent on the step, drain included, per event it handled: the cost that "
              "bounds the rate on an idle core. A step is lossless when every offered event is in the file and "
              "the kernel lost none.", "",
              "| round | requested /s | generated /s | offered | published | delivered | kernel lost | dropped | "
              "unaccounted | daemon CPU | waiting | µs/event daemon / subscriber | drain s |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for s in pl["steps"]:
            if s.get("distinct") and "distinct" not in str(s["requested_per_s"]):
                s = dict(s, requested_per_s=f"{s['requested_per_s']} distinct")
            per = " / ".join(f"{v:.1f}" if v is not None else "–" for v in (s["daemon_us_per_event"], s["subscriber_us_per_event"]))
            L.append(f"| {s['round']} | {s['requested_per_s'] or 'flat out'} | {s['achieved_per_s']:,.0f} | {s['offered']:,} | "
                     f"{s['daemon_events']:,} | {s['delivered']:,} | {s['kernel_lost']:,} | {s['subscriber_drops']:,} | "
                     f"{s['unaccounted']:,} | {cpu_cell(s)} | {s['daemon_runqueue_wait_pct']:.0f}% | {per} | "
                     f"{s['drain_seconds']:.1f} |")
        start = pl["loss_starts_per_s"]
        L += ["", f"Highest lossless rate: **{pl['best_lossless_per_s']:,.0f} events/s**; "
              + (f"loss starts at **{start:,.0f} events/s**" if start else "no measured rate lost events") + f". The idle daemon uses "
              f"{pl['idle_daemon_cpu_pct']:.1f}% of a core. Load average when this step began: "
              f"{', '.join(f'{x:.1f}' for x in pl['loadavg'])}; other `ebguard daemon` processes on the host: "
              f"{pl['other_daemons']}.", ""]
    mem = dm.get("memory")
    if "rss_idle_kb" in dm:
        L += ["## Daemon memory (host)", "",
              "| state | daemon VmRSS | peak (VmHWM) |", "| --- | --- | --- |",
              f"| idle, 2 s after start, no session{' (it loaded the programs)' if dm.get('loaded_programs') else ''} | "
              f"{dm['rss_idle_kb'] / 1024:.1f} MB | {dm['hwm_idle_kb'] / 1024:.1f} MB |"]
        if mem and "rss_kb" in mem:
            L.append(f"| before the sessions (after the start-up runs) | {mem['rss_before_kb'] / 1024:.1f} MB | |")
            L.append(f"| {mem['sessions']} concurrent sessions ({mem['policy']}) | {mem['rss_kb'] / 1024:.1f} MB | "
                     f"{mem['hwm_kb'] / 1024:.1f} MB |")
            L.append(f"| after they ended | {mem['rss_after_kb'] / 1024:.1f} MB | |")
        if "rss_end_kb" in dm:
            L.append(f"| at the end (after the pipeline: its backlog of recent events, grown buffers) | {dm['rss_end_kb'] / 1024:.1f} MB | "
                     f"{dm['hwm_end_kb'] / 1024:.1f} MB |")
        L.append("")
        if mem and "rss_kb" in mem:
            per = mem.get("bpf_memlock_per_session")
            maps = ", ".join(f"{k} {v / 1024:+,.1f}" for k, v in sorted(mem.get("bpf_memlock_maps_delta", {}).items()))
            L += [f"Each session is a real `ebguard run --quiet --policy {mem['policy']} -- sleep 600` registered with "
                  "the daemon; each of those clients has a median RSS of "
                  f"{(mem['run_client_rss_kb_median'] or 0) / 1024:.1f} MB of its own (not counted above). "
                  + (f"BPF map memory per session: {per / 1024:,.1f} KiB (`bpftool map show` memlock over the `eg_*` "
                     f"maps, before and with the {mem['sessions']} sessions, divided by {mem['sessions']}"
                     + (f"; by map, KiB: {maps}" if maps else "") + "). Daemon sessions report to the shared "
                     "`eg_events` ring, so they add no per-session ring buffer; on this host only the network maps "
                     "are written (no BPF-LSM)." if per is not None else "bpftool gave no memlock figures.")
                  + (f" **{mem['sessions_left']} session(s) were still listed after their commands ended.**"
                     if mem.get("sessions_left") else ""), ""]
    return L


def cpu_cell(s):
    """CPU time comes in clock ticks (10 ms): a window under half a second says nothing."""
    return f"{s['daemon_cpu_pct']:.1f}%" if s["generator_seconds"] >= 0.5 else "–"


def fmt_ratio(r):
    return f"{r['min']:.3f} / **{r['median']:.3f}** / {r['max']:.3f}" if r else "n/a"
