"""Distribution API client: pull, push, login, search, name resolution (registries.conf),
and a build cache shared through a registry.

Public entry points (import them lazily: they load requests):
  registry.ensure.ensure_image(store, ref_text, *, pull_policy, platform, options, progress) -> Image
  registry.pull.pull(store, text, *, options, platform, progress) -> PullResult
  registry.push.push(store, source, dest, *, options, compression, progress, chunk_size) -> PushResult
  registry.login.login / logout, registry.search.search
  registry.cache.export_cache(store, ref, {key: Image}) and registry.cache.RemoteCache(store, ref).fetch(key)
  registry.progress.for_terminal(quiet) -> the display a command passes as `progress`
"""

from __future__ import annotations


def ensure_image(store, ref_text: str, **kwargs):
    """See registry.ensure.ensure_image (kept importable without loading requests)."""
    from rootless_build.registry.ensure import ensure_image as _ensure_image

    return _ensure_image(store, ref_text, **kwargs)
