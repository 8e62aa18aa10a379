"""Unix sockets' cost for bench.py (VM part): what unix.bpf.o's hooks add to an AF_UNIX connect
(lsm/unix_stream_connect) and to a datagram sendto (lsm/unix_may_send). Both need BPF-LSM, so
they are measured in the VM only; the servers (`loops ulisten`) run outside every session.

  unix connect            stream connect() + close of BASE/run/target.sock, which one exact
                          `unix:` rule of the bench's policies allows: the kernel's first lookup
                          decides (an exact name ends the decision)
  unix connect, deep name the same for BASE/srv/a/b/c/d/e/f/deep.sock, which only their subtree
                          rule BASE/srv/** allows: the whole name, then each directory holding it,
                          deepest first, is looked up before that directory is met
  unix sendto             sendto() of 16 bytes on an unconnected datagram socket to
                          BASE/run/target.dgram, allowed by an exact rule (the session's
                          socket_sendmsg hook runs too)

Configurations: ungoverned (the baseline, measured around each governed sample as in the hook
tables); N `unix:` rules (exact names and subtrees, none on the targets' paths but the three
that allow them); the same N with 100 patterns added (the session then runs the path matcher
for every name no exact rule decides); policies/agent.yaml (`allow unix: /**` and the sockets it
denies), where every target (BASE is on the guest's /tmp) is decided by that `/**` after the
directory walk and its /tmp patterns (ssh-agent, tmux, VS Code, ...). A socket() per connect also runs lsm/socket_create, as for the TCP rows. Sizes:
PROFILES[...]["unix"]. Everything is on the guest's tmpfs (bench.VMDIR).
"""
import subprocess
import time

import vm_section

DEEP = "srv/a/b/c/d/e/f"   # the subtree target's directories, below the base


def policy_yaml(n, base, patterns=0):
    """n `unix:` rules: the three that allow the targets, then exact denies (nine in ten) and
    subtree denies elsewhere under base; `patterns` deny patterns none of the targets meets."""
    out = ["version: 1", f"name: bench-unix-{n}{'-patterns' if patterns else ''}",
           "defaults: { exec: allow, file: allow, network: deny }", "network:",
           f"  - {{ action: allow, unix: \"{base}/run/target.sock\" }}",
           f"  - {{ action: allow, unix: \"{base}/run/target.dgram\" }}",
           f"  - {{ action: allow, unix: \"{base}/srv/**\" }}"]
    for i in range(max(0, n - 3)):
        if i % 10 == 9:
            out.append(f"  - {{ action: deny, unix: \"{base}/other/t{i}/**\" }}")
        else:
            out.append(f"  - {{ action: deny, unix: \"{base}/run/user/{i % 10}/s{i}.sock\" }}")
    for i in range(patterns):
        out.append(f"  - {{ action: deny, unix: \"{base}/{('run/user/*/p' if i % 2 else 'tmp/ssh-*/agent.')}{i}\" }}")
    return "\n".join(out) + "\n"


def unix_part(p, ebguard, loops, vmdir, agent_yaml, start_workers, measure_rounds, worker_argv, measure_hook_time):
    """Measures; returns the record bench.py keeps under vm.unix."""
    started = time.monotonic()
    q = p["unix"]
    n = q["n"]
    base = vmdir / "unix"
    for d in ("run", DEEP):
        (base / d).mkdir(parents=True, exist_ok=True)
    exact, deep, dgram = base / "run" / "target.sock", base / DEEP / "deep.sock", base / "run" / "target.dgram"
    servers = subprocess.Popen([loops, "ulisten", str(exact), str(deep), str(dgram)], stdout=subprocess.PIPE, text=True)
    if servers.stdout.readline().strip() != "listening":
        servers.kill()
        return dict(error=f"unix: `loops ulisten` did not start (status {servers.wait()})")
    pol = vmdir / "unix-policies"
    pol.mkdir(exist_ok=True)
    texts = {f"unix-{n}": policy_yaml(n, base), f"unix-{n}-patterns": policy_yaml(n, base, patterns=100)}
    labels = {f"unix-{n}": f"{n:,} unix rules", f"unix-{n}-patterns": f"{n:,} unix rules + 100 unix patterns"}
    configs = [("direct", "direct (ungoverned)", worker_argv("direct", loops), {})]
    for name, text in texts.items():
        (pol / f"{name}.yaml").write_text(text)
        configs.append((name, "ebguard " + labels[name], worker_argv("ebguard", loops, ebguard, str(pol / f"{name}.yaml")),
                        dict(policy=name)))
    configs.append(("agent", "ebguard policies/agent.yaml", worker_argv("ebguard", loops, ebguard, str(agent_yaml)),
                    dict(policy="agent.yaml")))
    out = dict(n=n, rounds=q["rounds"], base=str(base), deep=DEEP, configs=[], hooks=[], hook_time=[])
    try:
        workers = start_workers(configs, str(vmdir), out, "vm")
        every = list(workers)
        benches = [("unix connect", f"uconnect {exact} {{n}}", q["connect"], every),
                   ("unix connect, deep name", f"uconnect {deep} {{n}}", q["connect"], every),
                   ("unix sendto", f"usend {dgram} {{n}}", q["send"], every)]
        measure_rounds(workers, benches, q["rounds"], out, "vm", kind="hooks")
        measure_hook_time(workers, benches, out, "vm")
        for w in workers.values():
            w.close()
    finally:
        servers.kill()
        servers.wait()
    out["seconds"] = round(time.monotonic() - started)
    return out


def errors(um):
    if not um:
        return []
    if "error" in um:
        return [um["error"]]
    out = [f"unix: {c['config']}: {c.get('reason', '')[:200]}" for c in um.get("configs", []) if c["status"] != "ok"]
    return out + [f"unix: {r['bench']} {r['config']}: {r['error']}" for r in um.get("hooks", []) if r.get("error")]


def render(um, p):
    if not um or "n" not in um:
        return []
    n = um["n"]
    L = ["## Unix sockets (VM)", "",
         "What the Unix socket hooks add (BPF-LSM: `lsm/unix_stream_connect` at connect, `lsm/unix_may_send` at "
         "each datagram send; the host refuses them), against Unix servers outside the session (`loops ulisten`) "
         f"bound below `{um.get('base', '?')}`. "
         "*unix connect*: stream connect() + close of `run/target.sock`, which one exact `unix:` rule allows (the "
         "first lookup decides); *deep name*: the same for `" + um.get('deep', DEEP) + "/deep.sock`, which only the "
         "subtree rule `srv/**` allows (the whole name, then each directory holding it, deepest first, looked up); "
         "*unix sendto*: sendto() of 16 bytes on an unconnected datagram socket to `run/target.dgram`, allowed by an "
         f"exact rule. Under {n:,} `unix:` rules (exact names, a tenth subtrees, all elsewhere but the 3 that allow "
         "the targets), the same with 100 patterns (the session then also runs the path matcher for a name no exact "
         "rule decides: the deep name), and policies/agent.yaml, where every target (all under /tmp) is decided by "
         "its `allow unix: /**` after the directory walk and its `/tmp/...` patterns. Each connect makes a socket, so "
         "`eg_sock_create` runs too, as in the TCP rows; each send runs `eg_sock_sendmsg`, which returns at once "
         "for a socket that is not a ping socket; `eg_unix_send` runs a little more than once per send, as a send that "
         "waited for room in the receiver's queue is checked again when unix_dgram_sendmsg retries it. Same workers and interleaved baseline as the hook tables "
         f"({um.get('rounds', p['vm_rounds'])} rounds, {um.get('seconds', '?')} s in the VM; `bench/unix_bench.py`).", ""]
    L += vm_section.run_and_ratio_rows(um)
    labels = {c["config"]: c["label"] for c in um.get("configs", [])}
    if um.get("hook_time"):
        L += ["Time inside ebguard's programs per operation (the kernel's BPF statistics, one more pass after the "
              "timed rounds, as in the hook tables; upper bounds):", "",
              "| load | configuration | ns per operation in ebguard's programs | share of the ungoverned operation | programs (calls per operation × ns per call) |",
              "| --- | --- | --- | --- | --- |"]
        for r in um["hook_time"]:
            base = next((h.get("baseline_ns_median") for h in um.get("hooks", [])
                         if h["bench"] == r["bench"] and h["config"] == "direct"), None)
            share = f"{100 * r['ns_per_op'] / base:.1f}%" if base else "?"
            progs = ", ".join(f"{k} {v['calls_per_op']:.2f} × {v['ns_per_call']:,.0f}" for k, v in r["programs"].items())
            L.append(f"| {r['bench']} | {labels.get(r['config'], r['config'])} | {r['ns_per_op']:,.0f} | {share} | "
                     f"{progs or 'none ran'} |")
        L.append("")
    return L
