"""Build cache: a step's key is a hash of what decides its result; a record maps the key
to the image the step produced (GC keeps it, since the record names its manifest).

key = sha256 over canonical JSON of: format version, the parent (manifest digest of the
image the step starts from, or `scratch` with its platform), the instruction keyword and
its inputs (expanded text and flags; build args in scope for RUN; for COPY/ADD the
names, modes, owners and content digests of what it writes; for ADD of a URL the
download's digest). Nothing machine-local enters a key (no store path, context path,
inode or timestamp), so a key computed on one machine finds the step another machine
pushed with `build --cache-to` (StepCache reads it back with `--cache-from`).
"""

from __future__ import annotations

import json

from rootless_build.errors import RootlessBuildError
from rootless_build.oci import digest as dg
from rootless_build.store.roots import BUILD_CACHE

_VERSION = 1


def step_key(parent: str, keyword: str, material) -> str:
    doc = {"v": _VERSION, "parent": parent, "instruction": keyword, "inputs": material}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return dg.of_bytes(text.encode("utf-8", "surrogateescape"))


def lookup(store, key: str):
    """The cached image for a key, or None (missing record or a blob since collected)."""
    record = store.get_record(BUILD_CACHE, key)
    if not record or "manifest" not in record:
        return None
    digest = record["manifest"]
    if not store.blobs.has(digest):
        return None
    try:
        image = store.load_image(digest)
    except RootlessBuildError:
        return None
    if not all(store.blobs.has(digest) for digest in image.layer_digests):
        return None
    return image


def record(store, key: str, image) -> None:
    # Not fsynced (2 fsyncs a step, ~30 ms of a cold busybox-steps build): what a crash can
    # leave of a record (nothing, a torn file) is a cache miss (lookup), and its blobs
    # were fsynced before it.
    store.put_record(BUILD_CACHE, key, {"manifest": image.manifest_digest, "image": image.id}, durable=False)


class StepCache:
    """The build's cache: this store's records first, then the `--cache-from` caches (a hit
    there is fetched into the store, only the blobs it lacks, and recorded). Every step
    the build reaches, cached or not, is kept for `--cache-to`."""

    def __init__(self, store, *, cache_from=(), cache_to=(), registry_options=None, quiet: bool = False,
                 warn=None):
        self.store = store
        self.steps: dict = {}  # key -> store Image, in build order
        self._from = list(cache_from)
        self._to = list(cache_to)
        self._registry_options = registry_options
        self._quiet = quiet
        self._warn = warn or (lambda text: None)
        self._remotes: list | None = None  # opened at the first local miss

    @classmethod
    def for_build(cls, store, options, warn=None) -> StepCache:
        remote = bool(options.cache_from or options.cache_to)
        return cls(store, cache_from=options.cache_from, cache_to=options.cache_to,
                   registry_options=options.registry_options() if remote else None,
                   quiet=options.quiet, warn=warn)

    def lookup(self, key: str):
        image = lookup(self.store, key)
        if image is None and self._from:
            image = self._fetch(key)
        if image is not None:
            self.steps[key] = image
        return image

    def record(self, key: str, image) -> None:
        record(self.store, key, image)
        self.steps[key] = image

    def export(self) -> None:
        """Push every step of this build to each `--cache-to` cache."""
        if not self._to or not self.steps:
            return
        from rootless_build.registry.cache import cache_reference, export_cache

        for ref in self._to:
            progress = self._progress()
            try:
                progress.message(f"Exporting build cache to {cache_reference(ref)}")
                export_cache(self.store, ref, self.steps, options=self._registry_options, progress=progress)
            except RootlessBuildError as e:
                raise type(e)(f"--cache-to {ref}: {e}") from None
            finally:
                progress.close()

    def _fetch(self, key: str):
        for remote in self._open():
            if key not in remote:
                continue
            progress = remote.progress = self._progress()
            try:
                image = remote.fetch(key)
            except RootlessBuildError as e:  # docker goes on building when a cache fails it
                self._warn(f"--cache-from {remote.reference}: {e}")
                continue
            finally:
                progress.close()
            if image is not None:
                record(self.store, key, image)
                return image
        return None

    def _open(self) -> list:
        if self._remotes is None:
            from rootless_build.registry.cache import RemoteCache

            self._remotes = []
            for ref in self._from:
                try:
                    self._remotes.append(RemoteCache(self.store, ref, options=self._registry_options))
                except RootlessBuildError as e:
                    self._warn(f"--cache-from {ref}: {e} (building without it)")
        return self._remotes

    def _progress(self):
        import sys

        from rootless_build.registry.progress import for_terminal

        return for_terminal(self._quiet, sys.stderr)
