"""Reading JSON documents without pydantic: the store's hot paths (every command resolves an
image) need only a few fields, and importing pydantic costs ~0.1 s of start-up."""

from __future__ import annotations

import json
from typing import Any

from rootless_build.errors import RootlessBuildError
from rootless_build.oci import mediatypes as mt


class InvalidDocument(RootlessBuildError):
    pass


def load_json(data: bytes, what: str = "document") -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidDocument(f"{what} is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidDocument(f"{what} is not a JSON object")
    return obj


def sniff_media_type(data: bytes) -> str:
    """The media type a manifest-ish document declares, or infers from its fields."""
    obj = load_json(data, "manifest")
    declared = obj.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in obj:
        return mt.OCI_INDEX
    if "config" in obj:
        return mt.OCI_MANIFEST
    raise InvalidDocument("document is neither a manifest nor an index")
