"""Warm builds of both tools timed in alternation: ours, buildah, ours, buildah, ...

A warm build takes 50-150 ms, and on this shared machine slow phases last seconds: two
back-to-back hyperfine series of 5 runs each can land in different phases (the same code
measured ours 80 ms / buildah 74 ms in one run, 56 / 67 ms in the next, every run of a
series within a few ms of the others). Alternating puts both tools in the same phases.
Each command is executed directly (no shell), as `hyperfine -N` would, after a warm-up.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import time


def _time_once(argv: list[str], timeout: int) -> tuple[float | None, str]:
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit status {done.returncode}"
    return elapsed, ""


def alternate(commands: dict[str, str], runs: int, timeout: int, warmup: int = 1) -> dict[str, dict]:
    """{label: result} for each shell-quoted command: median, mean, stddev, min, max, runs
    and times in seconds (hyperfine's names), or {"error": reason} once a run fails."""
    argvs = {label: shlex.split(command) for label, command in commands.items()}
    times: dict[str, list[float]] = {label: [] for label in commands}
    errors: dict[str, str] = {}
    for round_number in range(warmup + runs):
        for label, argv in argvs.items():
            if label in errors:
                continue
            elapsed, reason = _time_once(argv, timeout)
            if elapsed is None:
                errors[label] = reason
            elif round_number >= warmup:
                times[label].append(elapsed)
    results: dict[str, dict] = {}
    for label, command in commands.items():
        if label in errors:
            results[label] = {"error": errors[label], "command": command}
            continue
        t = times[label]
        results[label] = {"median": statistics.median(t), "mean": statistics.fmean(t),
                          "stddev": statistics.stdev(t) if len(t) > 1 else 0.0, "min": min(t),
                          "max": max(t), "runs": len(t), "times": t, "command": command,
                          "method": "alternating"}
    return results
