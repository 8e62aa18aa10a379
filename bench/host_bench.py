"""Host rules' measurements for bench.py (host part; issue #15):

  lookup    the latency a session's resolver adds to a DNS query: the same A query, paced
            below the rate limit, sent straight to the upstream (dnsmasq on loopback) and from a
            governed session to 192.0.2.1:53 (redirected to the resolver, which decides, asks
            the upstream and writes the answer into the kernel before replying). Median and
            p99 of each, and the difference.
  connect   TCP connect + close to an address a live host answer opens (127.0.0.1: no cidr
            rule allows it), in sessions holding 10 and 10,000 live answers, interleaved: the
            kernel's lookup is one hash probe, so the cost should not move.

dnsmasq answers `target.bench.test` with 127.0.0.1 and `nI.bench.test` with other loopback
addresses, TTL 600; every session runs `ebguard run --standalone` with a scratch config that
lifts the resolver's rate limit (the measurement, not the limit, is what is timed).
"""
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

ZONE = "bench.test"
POLICY = ("version: 1\nname: bench-hosts\ndefaults: {exec: allow, file: allow, network: deny}\n"
          "network:\n  - { action: allow, host: \"*.bench.test\", protocol: tcp }\n")

# Runs inside the session (and, with a server argument, outside as the baseline): resolves
# FILLERS distinct names, then times LOOKUPS paced queries for target.bench.test, then runs the
# connect loop. Prints one "key value" line per result.
DRIVER = r'''
import os, random, socket, struct, subprocess, sys, time
server, port, fillers, lookups, loops, loop_port, connects, rounds = sys.argv[1:9]
fillers, lookups, connects, rounds = int(fillers), int(lookups), int(connects), int(rounds)
def query(name):
    qid = random.randrange(65536)
    labels = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'
    return qid, struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
def ask(name):
    qid, q = query(name)
    s.sendto(q, (server, int(port)))
    while True:
        data, _ = s.recvfrom(4096)
        if struct.unpack('>H', data[:2])[0] == qid:
            return data[3] & 0x0f
failed = sum(1 for i in range(fillers) if ask('n%d.bench.test' % i) != 0)
failed += ask('target.bench.test') != 0
print('filler_failures', failed, flush=True)
times = []
for _ in range(lookups):
    t = time.perf_counter_ns()
    rcode = ask('target.bench.test')
    times.append(time.perf_counter_ns() - t)
    if rcode != 0:
        print('lookup_failed rcode', rcode, flush=True)
    time.sleep(0.004)   # ~200/s with the query itself: below the default rate limit
print('lookups', ' '.join(map(str, times)), flush=True)
if loops != '-':
    for _ in range(rounds):
        out = subprocess.run([loops, 'connect', loop_port, str(connects)], capture_output=True, text=True).stdout.strip()
        print('connect', out, flush=True)
'''


def log(msg):
    print(msg, flush=True)


def _dnsmasq(work, fillers):
    exe = shutil.which("dnsmasq")
    if not exe:
        raise RuntimeError("dnsmasq is missing (make deps installs dnsmasq-base)")
    hosts = work / "hosts"
    with open(hosts, "w") as f:
        f.write(f"127.0.0.1 target.{ZONE}\n")
        for i in range(fillers):
            f.write(f"127.{1 + i // 250}.{i % 250}.1 n{i}.{ZONE}\n")
    address = "127.0.0.%d" % (60 + os.getpid() % 100)
    port = 20000 + os.getpid() % 20000
    proc = subprocess.Popen([exe, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
                             f"--listen-address={address}", f"--port={port}", "--pid-file=", "--user=root",
                             f"--addn-hosts={hosts}", "--local-ttl=600", f"--local=/{ZONE}/"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{address}", "-p", str(port), f"target.{ZONE}"],
                           capture_output=True, text=True)
        if "127.0.0.1" in r.stdout:
            return proc, address, port
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("dnsmasq did not answer")


def _parse(out):
    res = dict(connect=[], lookups=[], failures=0)
    for line in out.splitlines():
        key, _, rest = line.partition(" ")
        if key == "lookups":
            res["lookups"] = [int(x) for x in rest.split()]
        elif key == "connect" and rest.startswith("ok "):
            res["connect"].append(float(rest.split()[1]))
        elif key == "filler_failures":
            res["failures"] += int(rest)
        elif key == "lookup_failed":
            res["failures"] += 1
    return res


def _session(ebguard, work, upstream, fillers, lookups, loops, loop_port, connects, rounds):
    policy, config = work / "hosts.yaml", work / "ebguard.yaml"
    policy.write_text(POLICY)
    config.write_text("version: 1\nresolver:\n  queries_per_second: 100000\n  max_names: 20000\n  max_addresses: 20000\n")
    argv = [ebguard, "run", "--standalone", "--quiet", "--policy", str(policy), "--config", str(config),
            "--resolver-upstream", upstream, "--", "/usr/bin/python3", "-c", DRIVER,
            "192.0.2.1", "53", str(fillers), str(lookups), loops, str(loop_port), str(connects), str(rounds)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"session failed ({r.returncode}): {r.stderr[-400:]}")
    return _parse(r.stdout)


def _quantiles(ns):
    ordered = sorted(ns)
    return statistics.median(ordered) / 1e6, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6


def hosts_part(p, ebguard, loops, loop_port, work):
    """Measures; returns the record bench.py keeps under host.hosts."""
    q = p["hosts"]
    work.mkdir(parents=True, exist_ok=True)
    out = dict(fillers=q["fillers"], lookups=q["lookups"], connects=q["connects"], rounds=p["rounds"])
    dns = None
    try:
        dns, address, port = _dnsmasq(work, q["fillers"])
        upstream = f"{address}:{port}"
        log(f"  [host] host rules: dnsmasq on {upstream}, {q['fillers']:,} filler names")
        direct = _parse(subprocess.run(["/usr/bin/python3", "-c", DRIVER, address, str(port), "0", str(q["lookups"]),
                                        "-", "0", "0", "0"], capture_output=True, text=True, timeout=600).stdout)
        governed = _session(ebguard, work, upstream, 0, q["lookups"], "-", 0, 0, 0)
        out["lookup"] = dict(direct=_quantiles(direct["lookups"]), governed=_quantiles(governed["lookups"]),
                             failures=governed["failures"])
        few, many = [], []
        for r in range(p["rounds"]):
            for fillers, into in ((10, few), (q["fillers"], many)) if r % 2 == 0 else ((q["fillers"], many), (10, few)):
                res = _session(ebguard, work, upstream, fillers, 0, loops, loop_port, q["connects"], 3)
                if res["failures"]:
                    raise RuntimeError(f"{res['failures']} of {fillers} filler lookups failed")
                into.extend(res["connect"])
            log(f"  [host] host rules round {r + 1}/{p['rounds']} done")
        out["connect"] = dict(few=statistics.median(few), many=statistics.median(many),
                              ratio=statistics.median(many) / statistics.median(few))
    except Exception as e:   # a harness failure, reported by errors()
        out["error"] = f"host rules: {e}"
    finally:
        if dns:
            dns.kill()
            dns.wait()
    return out


def errors(hm):
    if not hm:
        return []
    out = [hm["error"]] if "error" in hm else []
    if hm.get("lookup", {}).get("failures"):
        out.append(f"host rules: {hm['lookup']['failures']} governed lookups failed")
    return out


def evaluate(hm, add):
    if not hm or "error" in hm:
        return
    (dm, dp), (gm, gp) = hm["lookup"]["direct"], hm["lookup"]["governed"]
    added_median, added_p99 = gm - dm, gp - dp
    add("lookup latency added by the session's resolver (host), median", "≤ 1 ms", f"{added_median:.3f} ms",
        "PASS" if added_median <= 1 else "MISS", f"direct {dm:.3f} ms, governed {gm:.3f} ms")
    add("lookup latency added by the session's resolver (host), p99", "≤ 1 ms", f"{added_p99:.3f} ms",
        "PASS" if added_p99 <= 1 else "MISS", f"direct {dp:.3f} ms, governed {gp:.3f} ms")
    v = (hm["connect"]["ratio"] - 1) * 100
    add(f"connect with {hm['fillers']:,} live host answers vs 10 (host)", "≤ 5%", f"{v:+.1f}%", "PASS" if v <= 5 else "MISS",
        f"{hm['connect']['few']:.0f} vs {hm['connect']['many']:.0f} ns per connect+close")


def render(hm, p):
    if not hm:
        return []
    L = ["## Host rules (host)", ""]
    if "error" in hm:
        return L + [f"- failed: {hm['error']}", ""]
    (dm, dp), (gm, gp) = hm["lookup"]["direct"], hm["lookup"]["governed"]
    c = hm["connect"]
    L += [f"{hm['lookups']} A queries for one name, paced at about 200 a second, straight to dnsmasq on loopback "
          "and from a standalone session to 192.0.2.1:53 (redirected to the session's resolver, which decides, "
          "forwards to the same dnsmasq and writes the answer into `eg_hosts` before replying). Then TCP "
          f"connect+close to 127.0.0.1 (opened only by a live host answer), {hm['connects']:,} per run, 3 runs "
          f"per session, in sessions holding 10 and {hm['fillers']:,} live answers, interleaved over "
          f"{hm['rounds']} rounds (medians).", "",
          "| measurement | direct / 10 answers | governed / many answers | difference |",
          "| --- | --- | --- | --- |",
          f"| lookup median | {dm:.3f} ms | {gm:.3f} ms | {gm - dm:+.3f} ms |",
          f"| lookup p99 | {dp:.3f} ms | {gp:.3f} ms | {gp - dp:+.3f} ms |",
          f"| connect+close | {c['few']:.0f} ns | {c['many']:.0f} ns | {(c['ratio'] - 1) * 100:+.1f}% |", ""]
    return L
