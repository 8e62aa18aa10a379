"""What the shipped binary weighs, stripped, and what it is made of (the `make bench` section).

The stripped size is what the Debian package installs (dh_strip: symbols and DWARF go to
ebguard-dbgsym). The composition comes from the unstripped binary's symbol table
(`nm --defined-only -S`): each symbol's size is charged to the component its name belongs to
(Swift symbols by the module in their mangled name, C and C++ symbols by prefix). Bytes no
symbol covers (unwind tables, relocations, dynamic symbols, padding) are reported as such:
the figures add up to the stripped file, nothing is estimated.
"""
import re
import subprocess
import tempfile
from pathlib import Path

# Swift modules -> the package that brings them (anything else keeps its module name).
SWIFT_PACKAGES = [
    (re.compile(r"^(Swift|_StringProcessing|_RegexParser|_Concurrency|Synchronization|_SwiftConcurrencyShims|Distributed|Observation)$"),
     "Swift standard library"),
    (re.compile(r"^FoundationInternationalization$|^_FoundationICU$"), "Foundation: internationalization"),
    (re.compile(r"^Foundation|^_Foundation|^CoreFoundation$"), "Foundation"),
    (re.compile(r"^(NIO|_NIO|CNIO)"), "swift-nio, swift-nio-ssl"),
    (re.compile(r"^(Crypto|_CryptoExtras|CCrypto|SwiftASN1)"), "swift-crypto, swift-asn1"),
    (re.compile(r"^(Ebguard|ebguard$)"), "ebguard's own modules"),
    (re.compile(r"^(Yams|CYaml)$"), "Yams"),
    (re.compile(r"^(ArgumentParser|ArgumentParserToolInfo)$"), "swift-argument-parser"),
    (re.compile(r"^(Logging|SystemPackage|Atomics|DequeModule|InternalCollectionsUtilities|_AtomicsShims)$"),
     "swift-log, swift-system, swift-atomics, swift-collections"),
]
# C and C++ symbols, first match wins.
C_PREFIXES = [
    (re.compile(r"^icudt\d+_dat$"), "ICU data tables (Foundation: internationalization)"),
    (re.compile(r"^(swift_u|_ZL.*(trie|Trie|props|Props))|^_ZN?K?\d*icu_7\d"), "ICU code (Foundation: internationalization)"),
    (re.compile(r"CCryptoBoringSSL|_ZN4bssl16CCryptoBoringSSL"), "BoringSSL, swift-crypto's copy"),
    (re.compile(r"CNIOBoringSSL|_ZN4bssl13CNIOBoringSSL"), "BoringSSL, swift-nio-ssl's copy"),
    (re.compile(r"^(_ZL24ecp_nistz256|_ZN5mldsa|_ZN5mlkem|_ZL8kObjects$)"), "BoringSSL, internals of either copy"),
    (re.compile(r"^c_nio_"), "swift-nio, swift-nio-ssl"),
    (re.compile(r"^obj_"), "embedded BPF objects"),
    (re.compile(r"^(_ZN5swift|_ZN12_GLOBAL__N_1.*swift|swift_|_swift_|__swift|_ZL\d+_swift_stdlib)"), "Swift runtime"),
    (re.compile(r"^(_?_?CF|_CF|CF)"), "Foundation"),
    (re.compile(r"^(_?dispatch|_dispatch|DISPATCH)"), "Dispatch"),
    (re.compile(r"^yaml_"), "Yams"),
]


def swift_module(name):
    """The module of a mangled Swift symbol ($s<len><Module>...), or None."""
    m = re.match(r"^\$s(\d+)", name)
    if m:
        n, start = int(m.group(1)), m.end()
        return name[start:start + n] or None
    if re.match(r"^\$s[Ss]", name):   # the module Swift ($ss...) and its substitutions (Swift.String: $sSS)
        return "Swift"
    return None


def component(name):
    name = re.sub(r"^(got\.|l_|\.L)", "", name)
    module = swift_module(name)
    if module:
        for pattern, package in SWIFT_PACKAGES:
            if pattern.search(module):
                return package
        return module
    for pattern, group in C_PREFIXES:
        if pattern.search(name):
            return group
    if name.startswith("l__swift5_") or name.startswith("__swift5_") or name.startswith("symbolic "):
        return "Swift metadata (reflection, conformances)"
    return "other C and C++ (shims, unmatched names)"


def sections(path):
    out = subprocess.run(["size", "-A", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        # .bss and .tbss take no bytes in the file.
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit() and "bss" not in parts[0]:
            rows.append((parts[0], int(parts[1])))
    return sorted(rows, key=lambda r: -r[1])


def measure(ebguard):
    ebguard = Path(ebguard)
    with tempfile.TemporaryDirectory() as tmp:
        stripped = Path(tmp) / "ebguard.stripped"
        # What dh_strip does to an executable.
        subprocess.run(["strip", "--remove-section=.comment", "--remove-section=.note", "-o", str(stripped), str(ebguard)],
                       check=True)
        stripped_size = stripped.stat().st_size
        stripped_sections = sections(stripped)
    nm = subprocess.run(["nm", "--defined-only", "-S", str(ebguard)], capture_output=True, text=True, check=True).stdout
    groups, seen = {}, set()
    for line in nm.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) != 4 or parts[2] in "bBuUwWvV":   # .bss takes no file space
            continue
        address, size, name = parts[0], int(parts[1], 16), parts[3]
        if address in seen:   # aliases share their bytes
            continue
        seen.add(address)
        groups[component(name)] = groups.get(component(name), 0) + size
    attributed = sum(groups.values())
    return dict(unstripped=ebguard.stat().st_size, stripped=stripped_size, sections=stripped_sections[:8],
                components=sorted(groups.items(), key=lambda g: -g[1]), unattributed=max(stripped_size - attributed, 0))


def mb(n):
    return f"{n / 1e6:.1f} MB"


def render(b):
    if not b:
        return []
    if b.get("error"):
        return ["## Binary size", "", f"Not measured: {b['error']}", ""]
    comp = dict(b["components"])
    icu = comp.get("ICU data tables (Foundation: internationalization)", 0) + \
        comp.get("ICU code (Foundation: internationalization)", 0) + comp.get("Foundation: internationalization", 0)
    ssl = sorted([comp.get("BoringSSL, swift-crypto's copy", 0), comp.get("BoringSSL, swift-nio-ssl's copy", 0)])
    L = ["## Binary size", "",
         f"`bin/ebguard` is {mb(b['unstripped'])} as built and **{mb(b['stripped'])} stripped** (what the Debian "
         "package installs; the symbols and DWARF go to `ebguard-dbgsym`). It carries the Swift runtime, "
         "Foundation and every Swift dependency statically, and the BPF objects; it links only libbpf, libelf, "
         "zlib, libstdc++, libgcc_s and libc dynamically.", "",
         "What it is made of: each defined symbol's size in the unstripped binary (`nm -S`), charged to "
         "the module in its Swift mangled name or to a C/C++ prefix; the last row is the stripped file's bytes "
         "no symbol covers (unwind tables, relocations, dynamic symbol table, padding).", "",
         "| component | size | share of the stripped file |", "| --- | ---: | ---: |"]
    for name, size in b["components"]:
        if size >= 200_000:
            L.append(f"| {name} | {mb(size)} | {100 * size / b['stripped']:.0f}% |")
    small = sum(size for _, size in b["components"] if size < 200_000)
    L.append(f"| everything under 0.2 MB each | {mb(small)} | {100 * small / b['stripped']:.0f}% |")
    L.append(f"| not covered by a symbol | {mb(b['unattributed'])} | {100 * b['unattributed'] / b['stripped']:.0f}% |")
    L += ["", "Largest sections of the stripped file: " +
          ", ".join(f"`{name}` {mb(size)}" for name, size in b["sections"][:6]) + ".", "",
          "What could be dropped:",
          f"- **{mb(icu)} of ICU** (its data tables and code), which Foundation links for locale-aware formatting, "
          "calendars and collation. ebguard's output is not localized; importing `FoundationEssentials` instead "
          "of `Foundation` in every module (and in the dependencies that import Foundation) would leave ICU out, "
          "if nothing turns out to need it (not tried).",
          f"- **{mb(ssl[0])} of BoringSSL twice over**: swift-crypto and swift-nio-ssl each vendor a renamed copy. "
          "Only the audit forwarders' TLS and the audit chain's hashing use them; one copy cannot be shared "
          "without changing those packages.",
          "- Dropping Foundation entirely, or the forwarders (swift-nio, swift-nio-ssl) into a separate binary, "
          "would be larger changes; the BPF objects and ebguard's own code are small by comparison.", ""]
    return L
