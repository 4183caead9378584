"""What `build --sbom` and `--provenance` attach to the image they built.

Provenance is a SLSA v1 in-toto statement: the builder's id and version, the build type,
the Dockerfile's digest, the build args (values of secret-looking names redacted; --secret
contents never appear anywhere), the target; resolved dependencies are the base images by
digest and the ADD URLs with the digest of what was downloaded, plus the build context's
digest under mode=max.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import Any

from rootless_build import __version__
from rootless_build.store import referrers

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
IN_TOTO = "application/vnd.in-toto+json"
BUILD_TYPE = "https://rootless-build.invalid/build-types/dockerfile/v1"
BUILDER_ID = "https://rootless-build.invalid/builder/rootless-build"
_SECRET_NAME = re.compile(r"(?i)pass(word|wd)?|secret|token|credential|private|api_?key|auth")
_STARTED = time.time()


def attest(builder, image, bases: dict) -> None:
    """Attach what the options ask for to the built `image` (called by Builder.run)."""
    from rootless_build.sbom import generate

    options = builder.options
    store = builder.store
    if options.sbom:
        data = generate.ensure(store, image)
        if options.sbom_output:
            from pathlib import Path

            from rootless_build.store.atomic import write_bytes

            write_bytes(Path(options.sbom_output), data)
    if options.provenance:
        statement = provenance(builder, image, bases, options.provenance)
        raw = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
        referrers.attach(store, generate.subject(image), IN_TOTO, IN_TOTO, raw,
                         {"in-toto.io/predicate-type": PREDICATE_TYPE})


def provenance(builder, image, bases: dict, mode: str) -> dict:
    options = builder.options
    dockerfile_bytes = builder._read_dockerfile()[0].encode()
    dependencies = []
    for ref, base in bases.values():
        if base is not None and ref.kind == "image":
            dependencies.append(_image_dependency(ref.name, base))
    dependencies += _downloads(builder, set(bases))
    if mode == "max":
        dependencies.append({"uri": "context", "digest": {"sha256": context_digest(builder.context)},
                             "name": "build context"})
    external = {
        "configSource": {"path": builder.filename, "digest": {"sha256": hashlib.sha256(dockerfile_bytes).hexdigest()}},
        "request": {"args": redacted(options.build_args), "target": options.target or "",
                    "platform": options.platform or "", "labels": dict(options.labels)},
    }
    if mode == "max":
        external["configSource"]["dockerfile"] = dockerfile_bytes.decode("utf-8", "replace")
    names = list(image.tags) or [image.manifest_digest]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": image.manifest_digest.split(":", 1)[1]}} for name in names],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {"mode": mode, "secrets": sorted(options.secrets)},  # ids only, never values
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"rootless-build": __version__}},
                "metadata": {"invocationId": image.manifest_digest, "startedOn": _rfc3339(_STARTED),
                             "finishedOn": _rfc3339(time.time())},
            },
        },
    }


def redacted(args: dict[str, str]) -> dict[str, str]:
    """Build args as given, a secret-looking name's value replaced."""
    return {k: ("<redacted>" if _SECRET_NAME.search(k) else v) for k, v in sorted(args.items())}


def _image_dependency(name: str, base) -> dict:
    from rootless_build.oci.reference import parse

    try:
        ref = parse(name).fully_qualified()
        uri = f"pkg:docker/{ref.name}@{ref.tag or ref.digest or 'latest'}"
    except Exception:
        uri = f"pkg:docker/{name}"
    return {"uri": uri, "digest": {"sha256": base.manifest_digest.split(":", 1)[1]}, "name": name}


def _downloads(builder, built: set[int]) -> list[dict]:
    """ADD URLs of the built stages (as written: a URL made of variables is not expanded),
    with the digest of their last download, recorded by build.remote."""
    from rootless_build.builder.remote import DOWNLOADS, _record_key, is_git, is_url  # (ADD of git is refused)
    from rootless_build.dockerfile.copy_instructions import Add

    out, seen = [], set()
    for stage in builder.dockerfile.stages:
        if stage.index not in built:
            continue
        for instruction in stage.instructions:
            if not isinstance(instruction, Add):
                continue
            for source in instruction.sources:
                if source in seen or not is_url(source) or is_git(source):
                    continue
                seen.add(source)
                record = builder.store.get_record(DOWNLOADS, _record_key(source)) or {}
                entry: dict[str, Any] = {"uri": source}
                if record.get("digest", "").startswith("sha256:"):
                    entry["digest"] = {"sha256": record["digest"].split(":", 1)[1]}
                out.append(entry)
    return out


def context_digest(context) -> str:
    """sha256 over every path, type, mode and content hash the context offers (.dockerignore applied)."""
    h = hashlib.sha256()
    pending = [""]
    while pending:
        directory = pending.pop()
        for name in context.listdir(directory):
            path = f"{directory}/{name}" if directory else name
            node = context.node(path)
            if node is None:
                continue
            h.update(f"{path}\0{node.kind}\0{node.mode:o}\0".encode())
            if node.kind == "dir":
                pending.append(path)
            elif node.kind == "symlink":
                h.update(context.readlink(path, node).encode())
            elif node.kind == "file":
                with context.open(path, node) as f:
                    h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def attached_provenance(store, image) -> dict | None:
    for entry in referrers.referrers(store, image.manifest_digest, IN_TOTO):
        return json.loads(referrers.read_artifact(store, entry)[1])
    return None


if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():  # reproducible builds: times from the epoch
    _STARTED = float(os.environ["SOURCE_DATE_EPOCH"])
