"""AptInstallHygiene: what a RUN that installs Debian packages leaves in its layer."""

from __future__ import annotations

import re

from rootless_build.dockerfile.exec_instructions import Run

_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\b")
_NO_RECOMMENDS = re.compile(r"--no-install-recommends\b|APT::Install-Recommends=(?:false|0)", re.IGNORECASE)
_LISTS_REMOVED = re.compile(r"\brm\s+(?:-\S+\s+)*[^;&|]*/var/lib/apt/lists")


def _script(run: Run) -> str:
    text = " ".join(run.args)
    return "\n".join([text, *(heredoc.content for heredoc in run.heredocs)])


def _caches_apt_lists(run: Run) -> bool:
    """A cache mount on /var/lib/apt (or its lists) keeps the lists out of the layer."""
    return any("cache" in mount and "/var/lib/apt" in mount for mount in run.mounts)


def apt_problems(run: Run) -> list[str]:
    script = _script(run)
    if not _INSTALL.search(script):
        return []
    problems = []
    if not _NO_RECOMMENDS.search(script):
        problems.append("apt-get install without --no-install-recommends installs recommended packages too")
    if not _LISTS_REMOVED.search(script) and not _caches_apt_lists(run):
        problems.append("apt-get install leaves /var/lib/apt/lists in the layer: "
                        "add `&& rm -rf /var/lib/apt/lists/*` to the same RUN")
    return problems
