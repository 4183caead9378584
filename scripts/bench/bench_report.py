"""Cases, targets and the results table of the build benchmarks (see bench_build.py)."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

DRIVERS = os.environ.get("RB_BENCH_DRIVERS", "overlay vfs").split()


@dataclass
class Target:
    """One goal from the issues: `kind` is ratio (ours/buildah), abs (seconds) or baseline
    (ours / the named physical baseline)."""
    kind: str
    limit: float
    strict: bool = False      # '<' instead of '<='
    baseline: str = ""

    def text(self) -> str:
        op = "<" if self.strict else "<="
        if self.kind == "abs":
            return f"{op} {self.limit:g} s"
        if self.kind == "baseline":
            return f"{op} {self.limit:g}x {self.baseline}"
        return f"{op} {self.limit:g}x"


@dataclass
class Case:
    issue: int
    bases: list[str]
    cold: list[Target] = field(default_factory=list)
    warm: list[Target] = field(default_factory=list)


def _issue4(cold: float, *extra: Target) -> Case:
    return Case(4, ["busybox"], [Target("ratio", cold), *extra], [Target("ratio", 1.0)])


CASES: dict[str, Case] = {
    "scratch-static": Case(3, []),
    "bigfile": Case(3, ["busybox"], [Target("ratio", 0.4)], [Target("abs", 0.3, strict=True)]),
    "busybox-steps": _issue4(0.6),
    "whiteout": _issue4(0.6),
    "multistage": _issue4(0.6),
    "manyfiles": _issue4(0.3, Target("baseline", 2.0, baseline="manyfiles-native")),
    "debian-apt": Case(4, ["debian"], [Target("ratio", 0.9)], [Target("ratio", 1.0)]),
}


# --- the table ------------------------------------------------------------------------------

def keys_of(name: str) -> list[str]:
    return [f"{name}/{p}/{t}/{d}" for p in ("cold", "warm") for t in ("ours", "buildah") for d in DRIVERS]


def verdict(t: Target, ours: dict, buildah: dict, results: dict) -> tuple[str, float | None]:
    if "median" not in ours:
        return "n/a", None
    if t.kind == "abs":
        value = ours["median"]
    else:
        ref = buildah if t.kind == "ratio" else results.get(f"baseline/{t.baseline}", {})
        if "median" not in ref:
            return "n/a", None
        value = ours["median"] / ref["median"]
    ok = value < t.limit if t.strict else value <= t.limit
    return ("PASS" if ok else "MISS"), value


def report(results: dict, notes: list[str], names: list[str]) -> list[dict]:
    rows: list[dict] = []
    res = results
    # columns: label, ours, buildah, ratio, target, the value the target is checked on, verdict
    head = f"  {'':14}{'ours':>12}{'buildah':>12}{'ratio':>8}   {'target':24}{'value':>8}  verdict"

    said: set[tuple[str, str]] = set()   # (tool, reason) already printed in this case

    def add(case: str, label: str, ours: dict, buildah: dict, targets: list[Target]) -> None:
        ratio = ours["median"] / buildah["median"] if "median" in ours and "median" in buildah else None
        cells = f"  {label:14}{cell(ours):>12}{cell(buildah):>12}{(f'{ratio:.2f}' if ratio else '-'):>8}"
        for i, t in enumerate(targets or [None]):
            v, value = verdict(t, ours, buildah, res) if t else ("", None)
            shown = ("-" if value is None else (fmt_s(value) if t.kind == "abs" else f"{value:.2f}")) if t else ""
            print(f"{cells if i == 0 else ' ' * len(cells)}   {(t.text() if t else '-'):24}{shown:>8}  {v}")
            rows.append({"case": case, "row": label, "ours": ours.get("median"), "buildah": buildah.get("median"),
                         "ratio": ratio, "target": t.text() if t else None, "value": value, "verdict": v or None,
                         "ours_error": ours.get("error"), "buildah_error": buildah.get("error")})
        for who, r in (("ours", ours), ("buildah", buildah)):
            if "error" in r and (who, r["error"]) not in said:
                said.add((who, r["error"]))
                print(f"  {'':14}{who}: n/a ({r['error']})")

    print("\n================ results (medians; ratio = ours / buildah) ================")
    for name in names:
        case = CASES[name]
        print(f"\n{name} (issue {case.issue})\n{head}")
        said.clear()     # each failure reason once per case
        for phase, targets in (("cold", case.cold), ("warm", case.warm)):
            for d in DRIVERS:
                add(name, f"{phase} {d}", res.get(f"{name}/{phase}/ours/{d}", {}),
                    res.get(f"{name}/{phase}/buildah/{d}", {}), targets)
        if name == "manyfiles" and "baseline/manyfiles-native" in res:
            print(f"  native baseline (loop + tar -c): {cell(res['baseline/manyfiles-native'])}")
        if name == "bigfile":
            d = DRIVERS[0]
            add(name, "export gzip", res.get(f"bigfile/export/ours/{d}", {}),
                res.get(f"bigfile/export/buildah/{d}", {}), [Target("ratio", 0.5)])
            add(name, "export repeat", res.get(f"bigfile/export-repeat/ours/{d}", {}),
                res.get(f"bigfile/export/buildah/{d}", {}), [])
            mem = res.get(f"bigfile/maxrss/ours/{d}", {})
            bmem = res.get(f"bigfile/maxrss/buildah/{d}", {})
            if "max_rss_mib" in mem:
                ok = "PASS" if mem["max_rss_mib"] < 150 else "MISS"
                print(f"  {'max RSS cold':14}{mem['max_rss_mib']:>8.0f} MiB{bmem.get('max_rss_mib', 0):>8.0f} MiB"
                      f"{'':8}   {'< 150 MiB':24}{'':8}  {ok}")
                rows.append({"case": name, "row": "max RSS cold (MiB)", "ours": mem["max_rss_mib"],
                             "buildah": bmem.get("max_rss_mib"), "target": "< 150 MiB", "verdict": ok})
            elif mem:
                print(f"  max RSS cold: n/a ({mem.get('error')})")
            cold = res.get(f"bigfile/cold/ours/{d}", {})
            for b in ("tar-sha256", "sha256sum", "zstd-T0-3", "pigz-1"):
                base = res.get(f"baseline/{b}", {})
                if "median" in base:
                    rel = f"ours cold / this = {cold['median'] / base['median']:.2f}" if "median" in cold else ""
                    print(f"  {b:14}{fmt_s(base['median']):>12}{'(baseline)':>12}{'':8}   {rel}")
    counts = {v: sum(1 for r in rows if r.get("verdict") == v) for v in ("PASS", "MISS", "n/a")}
    print(f"\n{counts['PASS']} PASS, {counts['MISS']} MISS, {counts['n/a']} n/a")
    for n in notes:
        print(f"note: {n}")
    return rows


# --- formatting ------------------------------------------------------------------------

def q(p: object) -> str:
    return shlex.quote(str(p))


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def cell(r: dict) -> str:
    return fmt_s(r["median"]) if "median" in r else "n/a"


def last_line(text: str) -> str:
    """The last line of a failed command's output, as a short reason."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[-1] if lines else "no output"
    line = line.removeprefix("Error: ").removeprefix("error: ")
    return line if len(line) <= 160 else line[:157] + "..."
