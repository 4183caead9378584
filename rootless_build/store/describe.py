"""Views of stored images as docker and podman show them: the image list, `inspect`
documents, `history` rows. Plain data; cli/ formats it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rootless_build.errors import RootlessBuildError
from rootless_build.oci import reference
from rootless_build.oci.partial import parse_time
from rootless_build.store import names
from rootless_build.store.image import Image
from rootless_build.store.layersize import image_size, layer_sizes
from rootless_build.store.roots import BLOB_SOURCES, BUILD_CACHE
from rootless_build.store.store import Store

ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class ListedImage:
    image: Image
    tag: str | None  # None: shown as <repository or none> <none>
    size: int = 0  # uncompressed, as docker shows it
    repository: str | None = None  # of an untagged image pulled by digest

    @property
    def repo_tag(self) -> tuple[str, str]:
        """(REPOSITORY, TAG) as docker shows them."""
        if self.tag is None and self.repository:
            return self.repository, "<none>"
        return names.split_display(self.tag)


def list_images(store: Store, *, intermediate: bool = False, name_filter: str | None = None
                ) -> tuple[list[ListedImage], list[str]]:
    """(rows newest first, one per tag; problems with images that cannot be read)."""
    rows: list[ListedImage] = []
    problems: list[str] = []
    tags = store.tags_by_digest()
    digests = list(tags)
    if intermediate:
        cached = (rec.get("manifest") for _, rec in store.records(BUILD_CACHE))
        digests += [d for d in dict.fromkeys(cached) if d and d not in tags and store.blobs.has(d)]
    for digest in digests:
        names_ = tags.get(digest, [])
        try:
            image = store.load_image(digest, tuple(names_))
        except RootlessBuildError as e:
            problems.append(f"image {names_[0] if names_ else digest}: {e}")
            continue
        size = image_size(store, image)
        rows += [ListedImage(image, n, size) for n in names_] or [
            ListedImage(image, None, size, _pulled_from(store, image))]
    if name_filter:
        rows = [r for r in rows if (_matches(r.tag, name_filter) if r.tag else
                                    _matches_repository(r.repository or "", name_filter))]
    rows.sort(key=lambda r: _created_key(r.image), reverse=True)
    return rows, problems


def _matches(tag: str, wanted: str) -> bool:
    """docker images REPOSITORY[:TAG]: the repository must match, and the tag if given."""
    try:
        want = reference.parse(wanted, default_tag="")
        have = reference.parse(tag)
    except RootlessBuildError:
        return False
    if want.tag and want.tag != have.tag:
        return False
    return names.same_image_name(str(have.with_tag("x")), str(want.with_tag("x")))


def _matches_repository(repository: str, wanted: str) -> bool:
    """An untagged row answers to its repository given without a tag."""
    try:
        want = reference.parse(wanted, default_tag="")
    except RootlessBuildError:
        return False
    return (bool(repository) and not want.tag and not want.digest
            and names.same_image_name(f"{repository}:x", str(want.with_tag("x"))))


def _pulled_from(store: Store, image: Image) -> str | None:
    """The repository an untagged image was pulled from (by digest): the one place
    remembered as holding its config and every layer blob as stored here."""
    places = None
    for digest in [image.id, *image.layer_digests]:
        record = store.get_record(BLOB_SOURCES, digest) or {}
        found = [p for p in record.get("locations", []) if isinstance(p, str)]
        places = found if places is None else [p for p in places if p in found]
    if not places:
        return None
    try:
        return reference.parse(places[0]).name
    except RootlessBuildError:
        return None


def _created_key(image: Image) -> datetime:
    return image.created or datetime.min.replace(tzinfo=UTC)


def repo_digests(image: Image, pulled_from: str | None = None) -> list[str]:
    repos = dict.fromkeys([*(reference.parse(t).name for t in image.tags), *([pulled_from] if pulled_from else [])])
    return [f"{repo}@{image.manifest_digest}" for repo in repos]


def inspect_doc(store: Store, image: Image) -> dict[str, Any]:
    """docker image inspect's shape."""
    cfg = image.config.config

    def get(name: str) -> Any:
        return getattr(cfg, name) if cfg is not None else None

    config = {
        "Hostname": "", "Domainname": "", "User": get("user") or "",
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": get("exposed_ports"), "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Env": get("env"), "Cmd": get("cmd"), "Image": "", "Volumes": get("volumes"),
        "WorkingDir": get("working_dir") or "", "Entrypoint": get("entrypoint"), "OnBuild": get("on_build"),
        "Labels": get("labels"), "StopSignal": get("stop_signal"),
    }
    if cfg is not None and cfg.healthcheck is not None:
        config["Healthcheck"] = cfg.healthcheck.model_dump(by_alias=True, exclude_none=True)
    if get("shell"):
        config["Shell"] = get("shell")
    if not config["StopSignal"]:
        del config["StopSignal"]
    doc = {
        "Id": image.id,
        "Digest": image.manifest_digest,
        "RepoTags": list(image.tags),
        "RepoDigests": repo_digests(image, None if image.tags else _pulled_from(store, image)),
        "Parent": "",
        "Comment": _last_comment(image),
        "Created": image.config.created or ZERO_TIME,
        "DockerVersion": "",
        "Author": image.config.author or "",
        "Config": config,
        "Architecture": image.config.architecture,
        "Os": image.config.os,
        "Size": image_size(store, image),
        "RootFS": {"Type": image.config.rootfs.type, "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": ZERO_TIME},
    }
    if image.config.variant:
        doc["Variant"] = image.config.variant
    return doc


def _last_comment(image: Image) -> str:
    history = image.config.history or []
    return (history[-1].comment or "") if history else ""


def podman_json(row: ListedImage) -> dict[str, Any]:
    """One object of `podman images --format json`."""
    image = row.image
    created = image.created
    return {
        "Id": image.id.split(":", 1)[1],
        "ParentId": "",
        "RepoTags": list(image.tags) or None,
        "RepoDigests": repo_digests(image, row.repository),
        "Size": row.size,
        "SharedSize": 0,
        "VirtualSize": row.size,
        "Labels": (image.config.config.labels if image.config.config else None),
        "Containers": 0,
        "Names": list(image.tags) or None,
        "Digest": image.manifest_digest,
        "History": list(image.tags) or None,
        "Created": int(created.timestamp()) if created else 0,
        "CreatedAt": image.config.created or ZERO_TIME,
    }


@dataclass(frozen=True)
class HistoryRow:
    id: str  # the image ID on the top row, "<missing>" below, like docker
    created: datetime | None
    created_by: str
    size: int
    comment: str


def history_rows(store: Store, image: Image) -> list[HistoryRow]:
    """Newest first; non-empty entries take the layers' (uncompressed) sizes in order."""
    layers = layer_sizes(store, image)
    entries = list(image.config.history or [])
    if not entries:  # images without history: one anonymous row per layer, like docker
        rows = [HistoryRow("", None, "", size, "") for size in layers]
    else:
        rows, i = [], 0
        for h in entries:
            size = 0
            if not h.empty_layer:
                size = layers[i] if i < len(layers) else 0
                i += 1
            rows.append(HistoryRow("", parse_time(h.created), h.created_by or "", size, h.comment or ""))
    rows.reverse()
    return [HistoryRow(image.id if n == 0 else "<missing>", r.created, r.created_by, r.size, r.comment)
            for n, r in enumerate(rows)]
