"""What `build` was asked to do (the CLI fills it; tests may too)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BuildOptions:
    context_dir: str = "."
    dockerfile: str | None = None  # path; "-" reads stdin (dockerfile_text then holds it)
    dockerfile_text: str | None = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    iidfile: str | None = None
    quiet: bool = False
    platform: str | None = None
    network: str | None = None  # default for RUN: host network unless "none"
    secrets: dict[str, str] = field(default_factory=dict)  # id -> file, for RUN --mount=type=secret
    storage_driver: str | None = None
