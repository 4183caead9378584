#!/usr/bin/env python3
"""Build benchmarks: rootless-build against rootless `buildah bud --layers`, side by side.

Runs as the unprivileged user (scripts/bench/run.sh starts it through scripts/as-user).
Every figure is a median: hyperfine's, except warm builds, where ours and buildah's alternate
(alternate.py says why). A case that fails prints `n/a (reason)` and the rest goes on.
Results: a table per case on stdout, everything in a JSON file.

Usage: bench_build.py --cases-dir DIR --out-dir DIR [CASE...]
Environment: RB_BENCH_DRIVERS (default "overlay vfs"), RB_BENCH_COLD_RUNS (3),
RB_BENCH_WARM_RUNS (10), RB_BENCH_REGISTRY (localhost:5000), RB_BENCH_TIMEOUT (900 s per
hyperfine call), RB_BENCH_ALWAYS_BUILDAH=1 (measure buildah even where our build fails),
RB_TEST_CACHE (base tarballs, for the import fallback).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from alternate import alternate
from bench_report import CASES, DRIVERS, fmt_s, keys_of, last_line, q, report

HERE = Path(__file__).resolve().parent
REGISTRY = os.environ.get("RB_BENCH_REGISTRY", "localhost:5000")
COLD_RUNS = int(os.environ.get("RB_BENCH_COLD_RUNS", "3"))
WARM_RUNS = int(os.environ.get("RB_BENCH_WARM_RUNS", "10"))
TIMEOUT = int(os.environ.get("RB_BENCH_TIMEOUT", "900"))
ALWAYS_BUILDAH = os.environ.get("RB_BENCH_ALWAYS_BUILDAH") == "1"
TEST_CACHE = Path(os.environ.get("RB_TEST_CACHE", "/var/cache/rootless-build-test"))


class Bench:
    def __init__(self, cases_dir: Path, out_dir: Path):
        self.cases_dir = cases_dir
        self.out_dir = out_dir
        self.work = out_dir / "work"
        self.hf_dir = self.work / "hyperfine"
        self.results: dict[str, dict] = {}     # "case/phase/tool/driver" -> measurement
        self.notes: list[str] = []
        self.pull_mode = "build"

    # --- helpers -------------------------------------------------------------------------

    def store(self, tool: str, driver: str) -> Path:
        return self.work / "stores" / f"{tool}-{driver}"

    def ours(self, driver: str, args: str) -> str:
        return f"rootless-build --root {q(self.store('ours', driver))} --storage-driver {driver} {args}"

    def buildah(self, driver: str, args: str) -> str:
        s = self.store("buildah", driver)
        return f"buildah --root {q(s / 'root')} --runroot {q(s / 'run')} --storage-driver {driver} {args}"

    @staticmethod
    def wipe(path: Path) -> str:
        # Stores hold files owned by subordinate ids after RUN steps: only the user
        # namespace may delete those, and `buildah unshare` maps the same ranges as ours.
        return f"rm -rf {q(path)} 2>/dev/null || buildah unshare rm -rf {q(path)}"

    def hyperfine(self, key: str, command: str, prepare: str | None = None,
                  runs: int = COLD_RUNS, warmup: int = 0) -> dict:
        """Median etc. of `command` (or {"error": reason}); stored under `key`."""
        out = self.hf_dir / (key.replace("/", "_") + ".json")
        args = ["hyperfine", "--style", "basic", "--runs", str(runs), "--export-json", str(out),
                "--command-name", key]
        if warmup:
            args += ["--warmup", str(warmup)]
        if prepare:
            args += ["--prepare", prepare]
        args.append(command)
        print(f"  {key:42} ", end="", flush=True)
        rc, text = run_captured(args, TIMEOUT)
        if rc == 0:
            r = json.loads(out.read_text())["results"][0]
            res = {k: r[k] for k in ("median", "mean", "stddev", "min", "max")}
            res.update(runs=len(r["times"]), times=r["times"], command=command, prepare=prepare)
            print(f"median {fmt_s(res['median'])}  (min {fmt_s(res['min'])}, max {fmt_s(res['max'])}, "
                  f"{res['runs']} runs)")
        else:
            reason = "timed out" if rc is None else self.diagnose(command, prepare) or last_line(text)
            res = {"error": reason, "command": command, "prepare": prepare}
            print(f"n/a ({reason})")
        self.results[key] = res
        return res

    def diagnose(self, command: str, prepare: str | None) -> str:
        """Re-run a failed measurement once, to say why it failed (hyperfine hides output)."""
        if prepare:
            rc, text = run_captured(["sh", "-c", prepare], TIMEOUT)
            if rc != 0:
                return "prepare failed: " + last_line(text)
        rc, text = run_captured(["sh", "-c", command], TIMEOUT)
        return last_line(text) if rc != 0 else "failed under hyperfine, passed on a re-run"

    # --- set-up --------------------------------------------------------------------------

    def context(self, name: str) -> Path:
        """A writable copy of the case's context, with prepare.sh run in it (big.bin kept
        between benchmark runs: it takes seconds to make)."""
        src = self.cases_dir / name
        ctx = self.work / "contexts" / name
        if ctx.exists():
            subprocess.run(["chmod", "-R", "u+w", str(ctx)], check=True)
            shutil.rmtree(ctx)
        shutil.copytree(src, ctx)
        subprocess.run(["chmod", "-R", "u+w", str(ctx)], check=True)
        cached = self.work / "cache" / f"{name}.big.bin"
        if name == "bigfile" and cached.exists():
            os.link(cached, ctx / "big.bin")
        if (ctx / "prepare.sh").exists():
            subprocess.run(["sh", str(ctx / "prepare.sh"), str(ctx)], cwd=ctx, check=True)
            (ctx / "prepare.sh").unlink()
        if name == "bigfile" and not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            os.link(ctx / "big.bin", cached)
        return ctx

    def detect_pull_mode(self) -> None:
        """Cold builds start from an empty store and get the base from the registry. If our
        build cannot pull yet, time `pull && build` together; failing that, import the
        base tarball in hyperfine's prepare step (not timed) and say so."""
        with tempfile.TemporaryDirectory(dir=self.work) as tmp:
            ctx = Path(tmp, "ctx")
            ctx.mkdir()
            (ctx / "Dockerfile").write_text(f"FROM {REGISTRY}/busybox:latest\nLABEL bench=probe\n")
            store = Path(tmp, "store")
            base = ["rootless-build", "--root", str(store)]
            if run_captured(base + ["build", "-t", "probe", str(ctx)], 120)[0] == 0:
                self.pull_mode = "build"
                return
            rc, text = run_captured(base + ["pull", "--tls-verify=false", f"{REGISTRY}/busybox:latest"], 120)
            if rc == 0:
                self.pull_mode = "pull"
                self.notes.append("our cold builds time `rootless-build pull BASE && rootless-build build` "
                                  "(build does not pull by itself yet)")
            else:
                self.pull_mode = "import"
                self.notes.append(f"our cold builds import the base tarball in hyperfine's prepare step, "
                                  f"not timed (pull failed: {last_line(text)})")
            subprocess.run(["sh", "-c", self.wipe(store)])

    # --- measurements --------------------------------------------------------------------

    def ours_cold(self, name: str, driver: str) -> tuple[str, str]:
        """(prepare, pulls) of our cold build in the pull mode found: `pulls` is timed
        before the build, "" when the build pulls by itself."""
        prepare = self.wipe(self.store("ours", driver))
        bases = [f"{REGISTRY}/{b}:latest" for b in CASES[name].bases]
        if self.pull_mode == "pull" and bases:
            return prepare, " && ".join(self.ours(driver, f"pull -q --tls-verify=false {b}") for b in bases)
        if self.pull_mode == "import":
            for b in CASES[name].bases:
                tar = TEST_CACHE / f"{b}.tar"
                prepare += f" && {self.ours(driver, f'import {q(tar)} {REGISTRY}/{b}:latest')} >/dev/null"
        return prepare, ""

    def case(self, name: str) -> None:
        print(f"\n== {name} (issue {CASES[name].issue})")
        try:
            ctx = self.context(name)
        except (OSError, subprocess.CalledProcessError) as e:
            for key in keys_of(name):
                self.results[key] = {"error": f"context: {e}"}
            print(f"  n/a (preparing the context failed: {e})")
            return
        tag = f"bench:{name}"
        args = f"--build-arg REGISTRY={REGISTRY} -t {tag} {q(ctx)}"
        measured = False
        for driver in DRIVERS:
            build = self.ours(driver, f"build -q {args}")
            prepare, pulls = self.ours_cold(name, driver)
            r = self.hyperfine(f"{name}/cold/ours/{driver}", f"{pulls} && {build}" if pulls else build, prepare)
            # buildah's figures alone give no ratio: skipped when ours failed (saves minutes).
            if "error" in r and not ALWAYS_BUILDAH:
                self.skip(f"{name}/warm/ours/{driver}", "cold build failed")
                for phase in ("cold", "warm"):
                    self.skip(f"{name}/{phase}/buildah/{driver}", "not run: our build failed")
                continue
            measured = True
            bud = self.buildah(driver, f"bud --layers --tls-verify=false -q {args}")
            rb = self.hyperfine(f"{name}/cold/buildah/{driver}", bud, self.wipe(self.store("buildah", driver)))
            self.warm(name, driver, build if "error" not in r else None, bud if "error" not in rb else None)
            if name == "bigfile" and driver == DRIVERS[0]:
                self.bigfile_extras(driver, ctx, build, tag)
            for tool in ("ours", "buildah"):    # stores of 500 MiB add up: free them
                subprocess.run(["sh", "-c", self.wipe(self.store(tool, driver))])
        if name == "bigfile" and measured:
            self.baselines("bigfile", ctx / "big.bin")
        if name == "manyfiles" and measured:
            self.baselines("manyfiles", self.work / "native-manyfiles")

    def skip(self, key: str, reason: str) -> None:
        self.results[key] = {"error": reason}
        print(f"  {key:42} n/a ({reason})")

    def warm(self, name: str, driver: str, ours: str | None, buildah: str | None) -> None:
        """Both tools' warm builds, alternating (scripts/bench/alternate.py says why); a
        tool whose cold build failed is left out."""
        commands = {tool: cmd for tool, cmd in (("ours", ours), ("buildah", buildah)) if cmd}
        for tool in ("ours", "buildah"):
            if tool not in commands:
                self.skip(f"{name}/warm/{tool}/{driver}", "cold build failed")
        for tool, res in alternate(commands, WARM_RUNS, TIMEOUT).items():
            key = f"{name}/warm/{tool}/{driver}"
            self.results[key] = res
            if "error" in res:
                print(f"  {key:42} n/a ({res['error']})")
            else:
                print(f"  {key:42} median {fmt_s(res['median'])}  (min {fmt_s(res['min'])}, "
                      f"max {fmt_s(res['max'])}, {res['runs']} runs, alternating)")

    def bigfile_extras(self, driver: str, ctx: Path, build: str, tag: str) -> None:
        """Peak memory of our cold build, then oci-archive export of the image (gzip both)."""
        for tool, cmd in (("ours", build),
                          ("buildah", self.buildah(driver, f"bud --layers --tls-verify=false -q "
                                                           f"--build-arg REGISTRY={REGISTRY} -t {tag} {q(ctx)}"))):
            prepare, pulls = self.ours_cold("bigfile", driver) if tool == "ours" else \
                (self.wipe(self.store(tool, driver)), "")
            setup = prepare + (f" && {pulls}" if pulls else "")
            self.results[f"bigfile/maxrss/{tool}/{driver}"] = self.max_rss(tool, setup, cmd)
        out = self.work / "export.tar"
        variants = self.store("ours", driver) / "cache" / "variants"
        save = self.ours(driver, f"save --format oci-archive -o {q(out)} {tag}")
        push = self.buildah(driver, f"push -q --compression-format gzip {tag} oci-archive:{q(out)}")
        # First export: the gzip variant our store remembers is forgotten before each run.
        self.hyperfine(f"bigfile/export/ours/{driver}", save, f"rm -rf {q(variants)} {q(out)}")
        self.hyperfine(f"bigfile/export/buildah/{driver}", push, f"rm -f {q(out)}")
        self.hyperfine(f"bigfile/export-repeat/ours/{driver}", save, f"rm -f {q(out)}", warmup=1)
        out.unlink(missing_ok=True)

    def max_rss(self, tool: str, prepare: str, build: str) -> dict:
        """Max RSS (MiB) of the build command alone, after the cold prepare (and pull)."""
        print(f"  {f'bigfile/maxrss/{tool} (cold build)':42} ", end="", flush=True)
        rc, text = run_captured(["sh", "-c", prepare], TIMEOUT)
        if rc != 0:
            print(f"n/a (prepare failed: {last_line(text)})")
            return {"error": "prepare failed: " + last_line(text)}
        with tempfile.NamedTemporaryFile("r", dir=self.work, suffix=".rss") as f:
            rc, text = run_captured(["/usr/bin/time", "-f", "%M", "-o", f.name, "sh", "-c", build], TIMEOUT)
            if rc != 0:
                print(f"n/a ({last_line(text)})")
                return {"error": last_line(text)}
            mib = int(f.read().split()[-1]) / 1024
        print(f"{mib:.0f} MiB")
        return {"max_rss_mib": round(mib, 1)}

    def baselines(self, kind: str, path: Path) -> None:
        """Physical baselines by scripts/bench/baselines.sh (hyperfine JSON per baseline)."""
        print(f"  -- physical baselines ({kind})")
        rc, text = run_captured(["bash", str(HERE / "baselines.sh"), kind, str(path), str(self.hf_dir)], TIMEOUT)
        for line in text.splitlines():
            if line.startswith("baseline "):
                _, name, jpath = line.split(" ", 2)
                r = json.loads(Path(jpath).read_text())["results"][0]
                res = {k: r[k] for k in ("median", "mean", "stddev", "min", "max")}
                res.update(runs=len(r["times"]), command=r["command"])
                self.results[f"baseline/{name}"] = res
                print(f"  {'baseline/' + name:42} median {fmt_s(res['median'])}")
        if rc != 0:
            print(f"  baselines.sh failed: {last_line(text)}")
            self.notes.append(f"{kind} baselines: {last_line(text)}")


# --- small utilities ---------------------------------------------------------------------

def run_captured(args: list[str], timeout: int) -> tuple[int | None, str]:
    """(exit status or None on timeout, stdout+stderr); a timed-out run's whole process
    group is ended, so no build is left behind."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            out, _ = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
        return None, out or ""
    except KeyboardInterrupt:
        os.killpg(p.pid, signal.SIGTERM)
        raise


def versions() -> dict:
    def first(cmd: list[str]) -> str:
        rc, text = run_captured(cmd, 30)
        return text.strip().splitlines()[0] if rc == 0 and text.strip() else "?"
    return {"rootless-build": first(["rootless-build", "--version"]).split()[-1],
            "buildah": first(["buildah", "--version"]).split()[2],
            "hyperfine": first(["hyperfine", "--version"]).split()[-1], "kernel": os.uname().release,
            "cpus": os.cpu_count()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases-dir", type=Path, required=True)
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("cases", nargs="*", help=f"default: all of {', '.join(CASES)}")
    opts = ap.parse_args()
    unknown = [c for c in opts.cases if c not in CASES]
    if unknown:
        print(f"bench_build.py: unknown case {', '.join(unknown)} (choose from {', '.join(CASES)})", file=sys.stderr)
        return 2
    names = opts.cases or list(CASES)
    bench = Bench(opts.cases_dir.resolve(), opts.out_dir.resolve())
    bench.hf_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now()
    meta = {"started": started.isoformat(timespec="seconds"), "registry": REGISTRY, "drivers": DRIVERS,
            "cold_runs": COLD_RUNS, "warm_runs": WARM_RUNS, **versions()}
    print("build benchmarks: " + ", ".join(f"{k} {v}" for k, v in meta.items()))
    bench.detect_pull_mode()
    how = {"build": "the build pulls its base from the registry (timed)", "pull": "pull + build, both timed",
           "import": "base imported in the prepare step, not timed"}
    print(f"our cold builds: {how[bench.pull_mode]}")
    for name in names:
        bench.case(name)
    rows = report(bench.results, bench.notes, names)
    meta["seconds"] = round((datetime.datetime.now() - started).total_seconds())
    doc = {"meta": meta, "pull_mode": bench.pull_mode, "notes": bench.notes, "rows": rows,
           "measurements": bench.results}
    path = bench.out_dir / f"build-{started:%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(doc, indent=1))
    shutil.copyfile(path, bench.out_dir / "build-latest.json")
    print(f"results: {path} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
