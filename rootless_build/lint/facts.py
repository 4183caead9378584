"""What lint knows beyond the Dockerfile, filled in by the build (or `build --check`)."""

from __future__ import annotations

from collections.abc import Callable

from rootless_build.record import Record, field


class BaseImage(Record, frozen=True):
    """A base image's config, as far as lint cares."""

    env: dict[str, str]
    platform: str  # "linux/amd64"
    has_shell: bool = False  # the config sets Shell (then shell-form CMD is deliberate)


class LintFacts(Record, frozen=True):
    build_args: dict[str, str] = field(factory=dict)  # --build-arg
    predefined: dict[str, str] = field(factory=dict)  # TARGETPLATFORM, BUILDARCH, ...
    target_platform: str = ""
    # .dockerignore: is this context path excluded? None without a file, or when it has
    # `!` exceptions (BuildKit does not guess then).
    ignored: Callable[[str], bool] | None = None
    ignores_root: bool = False  # a pattern `*`, `**` or `**/*` excludes everything
    # The config of the base image a FROM names (its expanded reference); None when unknown
    # (not in the store): then UndefinedVar is not checked in that stage.
    base_image: Callable[[str], BaseImage | None] | None = None
