"""`commit`: a container's upper dir becomes one new (uncompressed) layer on top of its
image; the config is the container's (its command, env, workdir, user, as docker does),
then the --change instructions (the Dockerfile parser, as for import); one history entry carries the message and author.

The upper dir is read inside the user namespace: files owned by subordinate ids are
readable there, and their owners come out as container ids with no translation.
"""

from __future__ import annotations

import json
import os
import time

from rootless_build.archive.changes import apply_changes
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import Container
from rootless_build.containers.status import refresh
from rootless_build.errors import ContainerError
from rootless_build.oci import config as ic
from rootless_build.oci import mediatypes as mt

_OCI_EQUIVALENT = {mt.DOCKER_LAYER: mt.OCI_LAYER, mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP,
                   mt.DOCKER_LAYER_ZSTD: mt.OCI_LAYER_ZSTD}


def commit_container(store, catalog: Catalog, container: Container, image_name: str | None, *,
                     changes: list[str], message: str = "", author: str = ""):
    if image_name:
        from rootless_build.store import names

        image_name = names.normalize(image_name)  # a bad name fails before the layer is written
    container = refresh(catalog, container)
    base = store.load_image(container.manifest_digest)
    config, layers = ic.from_image(base)
    _take_container_config(config, container)
    config["config"] = apply_changes(ic.container(config), changes)  # the Dockerfile's rules
    created = ic.rfc3339(time.time_ns())
    with store.writing():
        diff_id, size = _write_upper_layer(store, catalog, container)
        ic.add_layer(config, layers, diff_id, size)
        config["created"] = created
        if author:
            config["author"] = author
        config.setdefault("history", []).append(
            ic.history_entry(created, " ".join(container.config.argv), author=author, comment=message))
        image = store.write_image(ic.to_bytes(config), _descriptors(layers))
        if image_name:
            store.tag(image, image_name)
        else:
            store.add_untagged(image)
    return image


def _take_container_config(config: dict, container: Container) -> None:
    """docker commit keeps what the container ran with, not only what the image said."""
    run = container.config
    inner = ic.container(config)
    inner["Env"] = list(run.env)
    for key, value in (("Entrypoint", run.entrypoint), ("Cmd", run.cmd)):
        if value:
            inner[key] = list(value)
        else:
            inner.pop(key, None)
    if run.working_dir and run.working_dir != "/":
        inner["WorkingDir"] = run.working_dir
    if run.user:
        inner["User"] = run.user
    elif "User" in inner:
        inner.pop("User")


def _descriptors(layers: list[dict]):
    from rootless_build.oci.models import Descriptor

    out = []
    for layer in layers:
        layer = dict(layer)
        layer["mediaType"] = _OCI_EQUIVALENT.get(layer.get("mediaType"), layer.get("mediaType"))
        out.append(Descriptor.model_validate(layer))
    return out


def _write_upper_layer(store, catalog: Catalog, container: Container) -> tuple[str, int]:
    """(diff_id, size) of the layer blob, now in the store."""
    from rootless_build.sandbox import userns

    report_r, report_w = os.pipe()
    pid = userns.fork()
    if pid == 0:
        os.close(report_r)
        _layer_child(store, catalog, container, report_w)
    os.close(report_w)
    with os.fdopen(report_r, "rb") as f:
        answer = f.read()
    os.waitpid(pid, 0)
    try:
        result = json.loads(answer)
    except ValueError:
        result = {"error": answer.decode(errors="replace").strip() or "writing the layer failed"}
    if "error" in result:
        raise ContainerError(f"commit {container.name}: {result['error']}")
    return result["diff_id"], result["size"]


def _layer_child(store, catalog: Catalog, container: Container, report_w: int) -> None:
    """In the namespace: the upper dir becomes a layer blob in the store; report it as JSON."""
    from rootless_build.store import upperlayer
    from rootless_build.store.unpacked import lower_dirs

    try:
        driver = container.driver or "overlay"
        # vfs: the upper dir is a full copy, its layer the difference from the image's tree
        lowers = lower_dirs(store, store.load_image(container.manifest_digest), flat=True) if driver == "vfs" else ()
        layer = upperlayer.write_upper_layer(store, catalog.upper_dir(container.id), driver, lowerdirs=lowers)
        upperlayer.keep(store, layer)
        answer = {"diff_id": layer.diff_id, "size": layer.size}
    except BaseException as e:  # noqa: BLE001 - the parent turns it into one line
        answer = {"error": str(e) or type(e).__name__}
    try:
        os.write(report_w, json.dumps(answer).encode())
    finally:
        os._exit(0)
