"""ensure_image: the image a build's FROM or COPY --from names, from the store or pulled,
as the pull policy says (podman's --pull=missing|always|newer|never)."""

from __future__ import annotations

from rootless_build.errors import ImageNotFound, RegistryError, UsageError
from rootless_build.oci import mediatypes as mt
from rootless_build.oci import platform as platforms
from rootless_build.oci.models import parse_index, sniff_media_type
from rootless_build.registry import conf as registries_conf
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.progress import Progress
from rootless_build.registry.pull import pull
from rootless_build.registry.resolve import qualified_names
from rootless_build.store import Image, Store
from rootless_build.store.names import normalize
from rootless_build.store.roots import PULLED_INDEXES

POLICIES = ("missing", "always", "newer", "never")


def ensure_image(store: Store, ref_text: str, *, pull_policy: str = "missing", platform: str | None = None,
                 options: RegistryOptions | None = None, progress: Progress | None = None,
                 conf: registries_conf.RegistriesConf | None = None) -> Image:
    """The image `ref_text` names, pulling it when needed.

    missing: use the store's copy when there is one, else pull.
    always:  ask the registry every time (only changed blobs are downloaded).
    newer:   as always, but fall back to the store's copy when the registry is unreachable.
    never:   the store's copy or ImageNotFound.
    Errors name the reference and the reason in one line.
    """
    if pull_policy not in POLICIES:
        raise UsageError(f"invalid pull policy {pull_policy!r} (choose {', '.join(POLICIES)})")
    conf = conf if conf is not None else registries_conf.load()
    local = find_local(store, ref_text, conf, platform) if pull_policy != "always" else None
    if local is not None and platform and not _is_for(local, platform):
        # stored for another platform (a multi-platform build): this one's, from the index
        # the name was pulled from when its image is still stored, else pulled
        local = from_pulled_index(store, ref_text, conf, platform)
    if local is not None and pull_policy in ("missing", "never"):
        return local
    if pull_policy == "never":
        raise ImageNotFound(f"image not known: {ref_text} (and the pull policy is \"never\")")
    try:
        return pull(store, ref_text, options=options, platform=platform, progress=progress, conf=conf).image
    except RegistryError as e:
        unreachable = e.temporary or e.code in ("CONNREFUSED", "DNS", "TIMEOUT", "CONNECTION")
        if pull_policy == "newer" and local is not None and unreachable:
            return local
        raise type(e)(f"pulling {ref_text}: {e}", code=e.code, status=e.status, temporary=e.temporary) from None


def from_pulled_index(store: Store, ref_text: str, conf: registries_conf.RegistriesConf | None,
                      platform: str) -> Image | None:
    """`platform`'s image of the index `ref_text` was last pulled from, if still stored."""
    try:
        candidates = [normalize(ref_text)]
        if conf is not None:
            candidates += [normalize(str(name)) for name in qualified_names(ref_text, conf) if not name.digest]
    except (UsageError, RegistryError):
        return None
    for name in candidates:
        record = store.get_record(PULLED_INDEXES, name)
        if record and isinstance(record.get("index"), str):
            found = _by_digest(store, record["index"], platform)
            if found is not None and _is_for(found, platform):
                return found
    return None


def _is_for(image: Image, platform: str) -> bool:
    return image.is_for(platforms.parse(platform))


def find_local(store: Store, ref_text: str, conf: registries_conf.RegistriesConf,
               platform: str | None = None) -> Image | None:
    """The store's image for a name as typed, or under any name it may resolve to."""
    try:
        return store.resolve(ref_text)
    except ImageNotFound:
        pass
    try:
        names = qualified_names(ref_text, conf)
    except (UsageError, RegistryError):
        return None
    for name in names:
        if name.digest:
            found = _by_digest(store, name.digest, platform)
            if found is not None:
                return found
            continue
        try:
            return store.resolve(str(name))
        except ImageNotFound:
            continue
    return None


def _by_digest(store: Store, digest: str, platform: str | None) -> Image | None:
    """An image stored under `digest`, or the platform's image of a stored index with it."""
    try:
        return store.resolve(f"x@{digest}")
    except ImageNotFound:
        pass
    if not store.blobs.has(digest):
        return None
    try:
        raw = store.blobs.read(digest)
        if sniff_media_type(raw) not in mt.INDEXES:
            return store.load_image(digest)
        choice = platforms.choose(parse_index(raw), platforms.parse(platform), digest)
        if store.blobs.has(choice.digest):
            return store.load_image(choice.digest)
    except Exception:  # a damaged or partial blob: pulling again repairs it
        return None
    return None

