"""What the VM sections of the benchmark report share (bench/pattern_bench.py, bench/unix_bench.py):
the line naming the run that made the rows, and the table of ratios to the interleaved baseline."""


def run_and_ratio_rows(m):
    """Report lines for a section record `m` (its `command`, `configs` and `hooks`)."""
    L = []
    if m.get("command"):
        L += [f"These rows: `{m['command']}`, {m.get('generated', '')}, `bin/ebguard` of commit "
              f"`{m.get('commit', '?')}`.", ""]
    L += ["| load | configuration | ratio min / **median** / max | overhead (median) | baseline (median) |",
          "| --- | --- | --- | --- | --- |"]
    labels = {c["config"]: c["label"] for c in m.get("configs", [])}
    for r in m.get("hooks", []):
        if r["config"] == "direct":
            continue
        ratio = r.get("ratio")
        cell = f"{ratio['min']:.3f} / **{ratio['median']:.3f}** / {ratio['max']:.3f}" if ratio else "n/a"
        over = f"{(ratio['median'] - 1) * 100:+.1f}%" if ratio else r.get("error", "n/a")
        base = r.get("baseline_ns_median")
        unit = f"{base / 1e6:.2f} ms" if base and base > 1e6 else (f"{base / 1e3:.1f} µs" if base else "?")
        L.append(f"| {r['bench']} | {labels.get(r['config'], r['config'])} | {cell} | {over} | {unit} |")
    L.append("")
    return L
