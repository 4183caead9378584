"""Checks on FROM lines against the global ARGs: UndefinedArgInFrom, InvalidDefaultArgInFrom,
RedundantTargetPlatform, FromPlatformFlagConstDisallowed, InvalidBaseImagePlatform."""

from __future__ import annotations

from rootless_build.dockerfile.from_instruction import From
from rootless_build.lint.env import RecordingEnv, expand_recording
from rootless_build.lint.report import Reporter
from rootless_build.lint.suggest import closest


def check_from_args(report: Reporter, from_: From, values: dict[str, str], declared: set[str]) -> None:
    """UndefinedArgInFrom for the image and --platform; the platform checks on --platform."""
    _, env = expand_recording(from_.image, values, from_.escape)
    _undeclared(report, from_, env, values, declared)
    if from_.platform is None:
        return
    result, env = expand_recording(from_.platform, values, from_.escape)
    _undeclared(report, from_, env, values, declared)
    if result is None:
        return
    if (list(env.matched) == ["TARGETPLATFORM"] and not env.unmatched
            and result == values.get("TARGETPLATFORM")):
        report.warn("RedundantTargetPlatform", f"Setting platform to predefined {from_.platform} in FROM is "
                    "redundant as this is the default behavior", from_.line, from_.end_line)
    if not env.matched and not env.unmatched:
        _constant_platform(report, from_, result)


def _undeclared(report: Reporter, from_: From, env: RecordingEnv, values: dict[str, str], declared: set[str]) -> None:
    keys = [*declared, *(k for k in values if k not in declared)]
    for name in env.unmatched:
        if name in declared or name in values:
            continue
        hint = closest(name, keys)
        message = f"FROM argument '{name}' is not declared" + (f" (did you mean {hint}?)" if hint else "")
        report.warn("UndefinedArgInFrom", message, from_.line, from_.end_line)


def _constant_platform(report: Reporter, from_: From, platform: str) -> None:
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        return  # not a platform: the build reports it
    os_name, arch = parts[0].lower(), parts[1].lower()
    stage = from_.name or ""
    if os_name in stage or arch in stage:
        return
    report.warn("FromPlatformFlagConstDisallowed", f'FROM --platform flag should not use constant value "{platform}"',
                from_.line, from_.end_line)


def check_default_base(report: Reporter, from_: From, defaults: dict[str, str]) -> None:
    """InvalidDefaultArgInFrom: with no --build-arg, the image name must still be valid."""
    from rootless_build.errors import RootlessBuildError
    from rootless_build.oci.reference import parse as parse_reference

    result, _ = expand_recording(from_.image, defaults, from_.escape)
    if result is None:
        return
    try:
        if not result:
            raise ValueError("empty")
        parse_reference(result)
    except (RootlessBuildError, ValueError):
        report.warn("InvalidDefaultArgInFrom",
                    f"Default value for ARG {from_.image} results in empty or invalid base image name",
                    from_.line, from_.end_line)


def check_base_platform(report: Reporter, from_: From, image: str, actual: str, expected: str) -> None:
    if actual.split("/")[:2] != expected.split("/")[:2]:
        report.warn("InvalidBaseImagePlatform", f'Base image {image} was pulled with platform "{actual}", '
                    f'expected "{expected}" for current build', from_.line, from_.end_line)
