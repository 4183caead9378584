"""The conformance suite's shared state: one store for our builds (base images pulled once
from the seeded test registry), and every selected case built by both builders at once,
concurrently, the first time a test asks for a result."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance_builds import Builders, CaseResult
from conformance_cases import Case, serve_files


class Results:
    def __init__(self, builders: Builders, cases: list):
        self.builders = builders
        self.cases = cases
        self.started = int(time.time()) - 2
        self._results: dict[str, CaseResult] | None = None

    def get(self, case) -> CaseResult:
        if self._results is None:
            self._results = self.builders.build_all(self.cases)
        if case.slug not in self._results:
            self._results[case.slug] = self.builders.build_case(case)
        return self._results[case.slug]


@pytest.fixture(scope="session")
def conformance(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                seeded_registry: str) -> Iterator[Results]:
    # dockerd is asked for here, not as a parameter, so the suite can be collected without it.
    dockerd = request.getfixturevalue("dockerd")
    work = Path(tmp_path_factory.mktemp("conformance"))
    store = work / "store"
    # (other suites name a parameter "case" too: only the conformance cases count)
    selected = [item.callspec.params["case"] for item in request.session.items
                if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)]
    served = work / "http"
    served.mkdir()
    for case in selected:
        serve_files(case, served)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    builders = Builders(store, dockerd, work, f"http://127.0.0.1:{server.server_address[1]}")
    for name in ("busybox:latest", "debian:latest"):
        pulled = builders.ours_cli("pull", "-q", f"{seeded_registry}/{name}")
        assert pulled.returncode == 0, pulled.stderr
        tagged = builders.ours_cli("tag", f"{seeded_registry}/{name}", name)
        assert tagged.returncode == 0, tagged.stderr
    try:
        yield Results(builders, selected)
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the cases' `http` files (with Last-Modified, as ADD <url> reads it), no log."""

    def log_message(self, format: str, *args) -> None:
        pass
