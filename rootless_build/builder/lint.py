"""Lint for a build: the facts the pure linter needs (the .dockerignore, base image configs
from the store, build args, platform), and `build --check`.

A base image lint looks at is only read from the store, never pulled: the build pulls its
own bases before it lints, and `--check` warns about what it can see (a stage on an image
the store lacks skips UndefinedVar, whose answer depends on that image's ENV).
"""

from __future__ import annotations

from pathlib import Path

from rootless_build.builder.options import BuildOptions
from rootless_build.builder.platform import (
    check_platform,
    format_platform,
    predefined_args,
)
from rootless_build.errors import ImageNotFound, RootlessBuildError
from rootless_build.lint import BaseImage, LintFacts, LintResult, lint

CHECK_ARG = "BUILDKIT_DOCKERFILE_CHECK"  # --build-arg overriding `# check=`, as BuildKit reads it


def lint_facts(store, options: BuildOptions, dockerfile_path: Path | None) -> LintFacts:
    target = check_platform(options.platform)
    ignored, ignores_root = _ignore_rules(Path(options.context_dir), dockerfile_path, options.ignorefile)
    return LintFacts(
        build_args={k: v for k, v in options.build_args.items() if k != CHECK_ARG},
        predefined=predefined_args(target),
        target_platform=format_platform(*target),
        ignored=ignored,
        ignores_root=ignores_root,
        base_image=lambda ref: _base_image(store, options, ref),
    )


def run_lint(store, options: BuildOptions, text: str, filename: str, dockerfile_path: Path | None) -> LintResult:
    facts = lint_facts(store, options, dockerfile_path)
    return lint(text, filename, facts, override=options.build_args.get(CHECK_ARG))


def _ignore_rules(context: Path, dockerfile_path: Path | None, chosen: str | None):
    from rootless_build.builder.dockerignore import IgnoreMatcher, find_ignore_file, read_patterns

    path = find_ignore_file(context, dockerfile_path, chosen) if context.is_dir() else None
    if path is None:
        return None, False
    try:
        patterns = read_patterns(path.read_text(errors="surrogateescape"))
        matcher = IgnoreMatcher(patterns)
    except (OSError, RootlessBuildError):
        return None, False  # the build reports an unreadable or bad .dockerignore
    if not matcher or matcher.has_exceptions:
        return None, False
    return matcher.excluded, any(p in ("*", "**", "**/*") for p in patterns)


def _base_image(store, options: BuildOptions, ref: str) -> BaseImage | None:
    image = options.found_images.get(ref)
    if image is None:
        try:
            image = store.resolve(ref)
        except (ImageNotFound, RootlessBuildError):
            return None
    inner = image.container_config
    env = {}
    for item in inner.get("Env") or ():
        if isinstance(item, str):
            key, _, value = item.partition("=")
            env[key] = value
    return BaseImage(env, str(image.platform), has_shell=bool(inner.get("Shell")))
