"""Path patterns' cost for bench.py (VM part; issue #17):

  rules   open+close and fork+exec at a 6-component path under N exact rules and under N
          pattern rules (a quarter exec, the rest file; N = 1,000 in the full profile), same run,
          each a ratio to the ungoverned baseline taken around it. The patterns are the kernel's
          worst case for that path: 8 patterns whose only literal component after their heads is
          one of the path's (`d`), so all 8 share that anchor (the most one holds) and each is
          checked to its last component on every open and exec, `**/d/*.zz` (keyed by its suffix
          ".zz" since the final-component index: looked up, not checked), the rest on anchors it
          never meets (the first 8 `*.x` and `*.y` on their suffixes, the others at their heads,
          `**/nI/**` on nI); the exact rules are siblings of it.
  heads   the same open under N patterns whose 8 hits share the path's directory `a/b` but not
          their literal components (`a/b/*/cK/*`): the row that was the worst case while a
          pattern was keyed at its head; since literal components are anchors, looked up only.
          The same open at a path of the same depth that no pattern's anchor meets: the
          ordinary case, where the kernel only looks the anchors up.
  names   open+close under policies/agent.yaml and under the same file without its `name:`
          file rules (.env, *.key, id_rsa*, ...): what they add to every open of a governed
          process (since the final-component index, lookups of the name's start and end at the
          policy's lengths; before it, 7 patterns checked under the root).

Everything is on the guest's tmpfs (bench.VMDIR); the workers and the interleaved rounds are
bench.py's, the sizes PROFILES[...]["patterns"] (fewer than the hook tables': the whole
`make bench` must stay under 15 minutes).
"""
import time
from pathlib import Path

import vm_section

SHAPE = "a/b/c/d"   # the target's directories, below the pattern directory
MISSED = "q/r/s/t"  # as deep, but no pattern's anchor is on it


def exact_yaml(n, base):
    n_exec = n // 4
    out = ["version: 1", f"name: bench-exact-{n}", "exec:"]
    out += [f"  - {{ action: deny, path: \"{base}/a/b/bin-{i}\" }}" for i in range(n_exec)]
    out += ["file:"] + [f"  - {{ action: deny, path: \"{base}/a/b/other-{i}\", access: [read] }}" for i in range(n - n_exec)]
    return "\n".join(out) + "\n"


def pattern_rules(n, base, suffix, heads=False):
    """n patterns: 9 the target's path meets (see the module's docstring), the rest spread."""
    if heads:
        hit = [f"\"{base}/a/b/*/c{k}/*{suffix}\"" for k in range(8)]
    else:
        # Every literal component after the head is 1 byte: the deepest, `d`, is the anchor.
        hit = [f"\"{base}/{x}/{y}/{z}/d/*/*\"" for x in ("a", "*") for y in ("b", "*") for z in ("*", "c*")]
    hit += [f"\"{base}/**/d/*.zz{suffix}\""]
    rest = []
    for i in range(max(0, n - len(hit))):
        rest.append((f"\"{base}/a/b/o{i}/*.x{suffix}\"", f"\"{base}/**/n{i}/**\"", f"\"/srv/p{i}/**/*.y{suffix}\"")[i % 3])
    return (hit + rest)[:n]


def pattern_yaml(n, base, heads=False):
    n_exec = n // 4
    out = ["version: 1", f"name: bench-patterns-{n}{'-heads' if heads else ''}", "exec:"]
    out += [f"  - {{ action: deny, path: {r} }}" for r in pattern_rules(n_exec, base, "e", heads)]
    out += ["file:"] + [f"  - {{ action: deny, path: {r}, access: [read] }}" for r in pattern_rules(n - n_exec, base, "", heads)]
    return "\n".join(out) + "\n"


def without_file_names(yaml):
    """agent.yaml minus the `name:` rules of its file section (exec's stay: they hold execs)."""
    out, section = [], None
    for line in yaml.splitlines():
        if line and not line.startswith((" ", "#")):
            section = line.split(":")[0]
        if section == "file" and line.lstrip().startswith("- {") and " name:" in line:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def patterns_part(p, ebguard, loops, vmdir, agent_yaml, start_workers, measure_rounds, worker_argv, measure_hook_time):
    """Measures; returns the record bench.py keeps under vm.patterns."""
    started = time.monotonic()
    q = p["patterns"]
    n = q["n"]
    base = vmdir / "pat"
    (base / SHAPE).mkdir(parents=True, exist_ok=True)
    (base / MISSED).mkdir(parents=True, exist_ok=True)
    target, prog, missed = base / SHAPE / "target", base / SHAPE / "prog", base / MISSED / "target"
    target.write_text("x\n")
    missed.write_text("x\n")
    prog.write_bytes(Path(loops).read_bytes())
    prog.chmod(0o755)
    pol = vmdir / "pattern-policies"
    pol.mkdir(exist_ok=True)
    texts = {f"exact-{n}": exact_yaml(n, base), f"patterns-{n}": pattern_yaml(n, base),
             f"patterns-{n}-heads": pattern_yaml(n, base, heads=True), "agent": Path(agent_yaml).read_text()}
    texts["agent-no-names"] = without_file_names(texts["agent"])
    names_removed = texts["agent"].count("\n") - texts["agent-no-names"].count("\n")
    labels = {f"exact-{n}": f"{n:,} exact rules", f"patterns-{n}": f"{n:,} pattern rules",
              f"patterns-{n}-heads": f"{n:,} pattern rules, 8 sharing a directory of the path",
              "agent": "policies/agent.yaml", "agent-no-names": f"agent.yaml without its {names_removed} file `name:` rules"}
    configs = [("direct", "direct (ungoverned)", worker_argv("direct", loops), {})]
    for name, text in texts.items():
        (pol / f"{name}.yaml").write_text(text)
        configs.append((name, "ebguard " + labels[name], worker_argv("ebguard", loops, ebguard, str(pol / f"{name}.yaml")),
                        dict(policy=name)))
    out = dict(n=n, rounds=q["rounds"], names_removed=names_removed, target=str(target), configs=[], hooks=[], hook_time=[])
    workers = start_workers(configs, str(vmdir), out, "vm")
    rules = ["direct", f"exact-{n}", f"patterns-{n}"]
    benches = [("open+close, 6-deep path", f"open {target} {{n}}", q["open"],
                rules + [f"patterns-{n}-heads", "agent", "agent-no-names"]),
               ("open+close, 6-deep path no pattern meets", f"open {missed} {{n}}", q["open"], rules),
               ("fork+exec, 6-deep path", f"exec {prog} {{n}}", q["exec"], rules)]
    measure_rounds(workers, benches, q["rounds"], out, "vm", kind="hooks")
    measure_hook_time(workers, benches, out, "vm")
    for w in workers.values():
        w.close()
    out["seconds"] = round(time.monotonic() - started)
    return out


def _median(pm, bench, config):
    for r in pm.get("hooks", []):
        if r["bench"] == bench and r["config"] == config and r.get("ratio"):
            return r["ratio"]["median"]
    return None


def comparisons(pm):
    """(name, governed config, reference config, bench): what the targets compare."""
    n = pm["n"]
    return [(f"open+close, {n:,} pattern rules vs {n:,} exact rules (vm)", f"patterns-{n}", f"exact-{n}", "open+close, 6-deep path"),
            (f"open+close, {n:,} pattern rules vs {n:,} exact rules, 8 sharing a directory of the path, not a literal (vm)",
             f"patterns-{n}-heads", f"exact-{n}", "open+close, 6-deep path"),
            (f"open+close, {n:,} pattern rules vs {n:,} exact rules, no pattern meets the path (vm)", f"patterns-{n}",
             f"exact-{n}", "open+close, 6-deep path no pattern meets"),
            (f"exec, {n:,} pattern rules vs {n:,} exact rules (vm)", f"patterns-{n}", f"exact-{n}", "fork+exec, 6-deep path"),
            ("open+close, agent.yaml's file `name:` rules (vm)", "agent", "agent-no-names", "open+close, 6-deep path")]


def errors(pm):
    if not pm:
        return []
    out = [f"patterns: {c['config']}: {c.get('reason', '')[:200]}" for c in pm.get("configs", []) if c["status"] != "ok"]
    return out + [f"patterns: {r['bench']} {r['config']}: {r['error']}" for r in pm.get("hooks", []) if r.get("error")]


def evaluate(pm, add):
    if not pm or "n" not in pm:
        return
    for name, config, reference, bench in comparisons(pm):
        a, b = _median(pm, bench, config), _median(pm, bench, reference)
        if a and b:
            v = (a / b - 1) * 100
            add(name, "≤ +5% (same run)", f"{v:+.1f}%", "PASS" if v <= 5 else "MISS",
                f"{(a - 1) * 100:+.1f}% vs {(b - 1) * 100:+.1f}% over ungoverned")


def render(pm, p):
    if not pm or "n" not in pm:
        return []
    n = pm["n"]
    L = ["## Path patterns (VM)", "",
         f"open+close of `{pm['target']}` and fork+exec of a static no-op program beside it, under {n:,} exact "
         f"rules (siblings of the path) and under {n:,} pattern rules (a quarter exec, the rest file): 8 "
         "patterns whose only literal component after their head is the path's `d` (`*/*/c*/d/*/*` and the like: "
         "all 8 share that anchor, the most one holds, and each is checked to its last component on every "
         "operation), `**/d/*.zz` (keyed by its suffix `.zz`, which the path's name lacks: looked up, not checked), "
         "and the rest anchored where the path never goes, so the kernel checks 8 patterns per operation "
         "whatever N is (the worst case for one path). The same open under the pattern set this row used "
         "before literal components became anchors: 8 patterns `a/b/*/cK/*` sharing the path's directory "
         "`a/b` (then all checked there; now keyed by `cK`, which the path lacks: looked up, not checked). "
         f"Then the same open at `{MISSED}/target`, as deep, where no anchor holds a pattern (the common case: "
         "the kernel looks the anchors up and checks none). Then open+close under "
         f"policies/agent.yaml and under agent.yaml without its {pm['names_removed']} file `name:` rules "
         "(.env, *.key, id_rsa*, kubeconfig, ...): their cost on every open (lookups of the name's literal start "
         "and end at the policy's lengths). Same workers and interleaved "
         f"baseline as the hook tables ({pm.get('rounds', p['vm_rounds'])} rounds, {pm.get('seconds', '?')} s in the VM; "
         "`bench/pattern_bench.py`).", ""]
    L += vm_section.run_and_ratio_rows(pm)
    labels = {c["config"]: c["label"] for c in pm.get("configs", [])}
    if pm.get("hook_time"):
        L += ["Time inside ebguard's programs per operation (the kernel's BPF statistics, one more pass after the "
              "timed rounds, as in the hook tables; upper bounds):", "",
              "| load | configuration | ns per operation in ebguard's programs | programs (calls per operation × ns per call) |",
              "| --- | --- | --- | --- |"]
        for r in pm["hook_time"]:
            progs = ", ".join(f"{k} {v['calls_per_op']:.2f} × {v['ns_per_call']:,.0f}" for k, v in r["programs"].items())
            L.append(f"| {r['bench']} | {labels.get(r['config'], r['config'])} | {r['ns_per_op']:,.0f} | {progs or 'none ran'} |")
        L.append("")
    for name, config, reference, bench in comparisons(pm):
        a, b = _median(pm, bench, config), _median(pm, bench, reference)
        if a and b:
            L.append(f"- {name}: {(a / b - 1) * 100:+.1f}% ({labels.get(config, config)} ÷ {labels.get(reference, reference)}, medians).")
    L.append("")
    return L
