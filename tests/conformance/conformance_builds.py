"""Both builders build a case and export it to an OCI layout: Docker (classic or BuildKit,
then `skopeo copy docker-daemon:` -> `oci:`) and ours (`build`, then `save --format oci-dir`).
Builds run concurrently: dockerd takes parallel builds, ours share one store with unique tags."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from conformance_cases import Case, materialize

TIMEOUT = 300
DOCKER_CONFIG = "docker-config.json"  # beside the exported layout: the config as dockerd holds it


@dataclass
class Outcome:
    layout: Path | None  # the exported OCI layout, None when the build failed
    error: str  # the failed build's output (last lines)


@dataclass
class CaseResult:
    ours: Outcome
    docker: Outcome | None  # None for golden cases


def _run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {TIMEOUT}s")


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])


class Builders:
    def __init__(self, store: Path, dockerd, workdir: Path, http_base: str = ""):
        self.store = store
        self.dockerd = dockerd
        self.workdir = workdir
        self.http_base = http_base  # the conformance HTTP server's URL (cases with `http`)

    def ours_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([sys.executable, "-m", "rootless_build", "--root", str(self.store), *args])

    def build_all(self, cases: list[Case], workers: int = 4) -> dict[str, CaseResult]:
        with ThreadPoolExecutor(workers) as pool:
            futures = {case.slug: pool.submit(self.build_case, case) for case in cases}
            return {slug: future.result() for slug, future in futures.items()}

    def build_case(self, case: Case) -> CaseResult:
        base = self.workdir / case.slug
        context = materialize(case, base)
        flags: list[str] = []
        if case.spec.get("http"):
            flags += ["--build-arg", f"HTTP={self.http_base}/{case.slug}"]
        for key, value in case.spec.get("build_args", {}).items():
            flags += ["--build-arg", f"{key}={value}"]
        if case.spec.get("target"):
            flags += ["--target", case.spec["target"]]
        ours = self._ours(case, context, flags, base / "ours")
        docker = None if case.reference == "golden" else self._docker(case, context, flags, base / "docker")
        return CaseResult(ours, docker)

    def _ours(self, case: Case, context: Path, flags: list[str], layout: Path) -> Outcome:
        tag = f"conf-{case.slug}:latest"
        built = self.ours_cli("build", "-q", "-t", tag, *flags, *case.spec.get("ours_args", []),
                              "-f", str(context / "Dockerfile"), str(context))
        if built.returncode != 0:
            return Outcome(None, _tail(built))
        saved = self.ours_cli("save", "--format", "oci-dir", "--compression", "none", "-o", str(layout), tag)
        assert saved.returncode == 0, saved.stderr
        return Outcome(layout, "")

    def _docker(self, case: Case, context: Path, flags: list[str], layout: Path) -> Outcome:
        tag = f"conf-{case.slug}:latest"
        env = {"DOCKER_BUILDKIT": "1" if case.reference == "buildkit" else "0"}
        built = self.dockerd.docker("build", "--network", "none", "-q", "-t", tag, *flags,
                                    "-f", context / "Dockerfile", context, check=False, env=env,
                                    timeout=TIMEOUT)
        if built.returncode != 0:
            return Outcome(None, _tail(built))
        copied = _run(["skopeo", "copy", "-q", "--src-daemon-host", self.dockerd.host,
                       f"docker-daemon:{tag}", f"oci:{layout}:{tag}"])
        assert copied.returncode == 0, copied.stderr
        # The export converts Docker's config to an OCI one, which drops Healthcheck, OnBuild,
        # Shell...: take the config as Docker holds it from the daemon itself.
        inspected = json.loads(self.dockerd.docker("image", "inspect", tag).stdout)[0]
        config = {"architecture": inspected.get("Architecture"), "os": inspected.get("Os"),
                  "variant": inspected.get("Variant"), "author": inspected.get("Author"),
                  "config": inspected.get("Config")}
        (layout / DOCKER_CONFIG).write_text(json.dumps(config))
        return Outcome(layout, "")
