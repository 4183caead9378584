"""Pydantic models of the OCI image spec (and Docker schema 2, which shares its shape).

Models are for reading and building documents; digests are always taken of the exact
bytes written or read (see `dump` and `Raw`), never of a model serialised again.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from rootless_build.oci import digest as dg
from rootless_build.oci import mediatypes as mt
from rootless_build.oci.documents import InvalidDocument, load_json, sniff_media_type  # noqa: F401 (re-exported)

_MAX_ID = 4294967294  # uid_t/gid_t: 2^32-1 is (uid_t)-1, "no change", never a user


def _digest(value: str) -> str:
    if not dg.is_digest(value):
        raise ValueError("not a sha256/sha512 digest")
    return value


def _text(value: str) -> str:
    if "\0" in value:
        raise ValueError("contains a NUL byte")
    return value


def _user(value: str) -> str:
    """USER is name|uid[:group|gid]; numeric ids must fit a uid_t."""
    _text(value)
    for part in value.split(":", 1):
        if part.isdigit() and int(part) > _MAX_ID:
            raise ValueError(f"id {part} is out of range (at most {_MAX_ID})")
    return value


Digest = Annotated[str, AfterValidator(_digest)]
Text = Annotated[str, AfterValidator(_text)]  # reaches execve, the environment or a path
User = Annotated[str, AfterValidator(_user)]
Size = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)


class Platform(_Model):
    architecture: str
    os: str
    os_version: str | None = Field(default=None, alias="os.version")
    os_features: list[str] | None = Field(default=None, alias="os.features")
    variant: str | None = None

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


class Descriptor(_Model):
    media_type: str = Field(alias="mediaType")
    digest: Digest
    size: Size
    urls: list[str] | None = None
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    artifact_type: str | None = Field(default=None, alias="artifactType")


class Manifest(_Model):
    """An OCI image manifest or a Docker schema 2 manifest (same fields)."""

    schema_version: int = Field(2, alias="schemaVersion")
    media_type: str | None = Field(default=mt.OCI_MANIFEST, alias="mediaType")
    artifact_type: str | None = Field(default=None, alias="artifactType")
    config: Descriptor
    layers: list[Descriptor] = []
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None


class Index(_Model):
    """An OCI image index or a Docker manifest list."""

    schema_version: int = Field(2, alias="schemaVersion")
    media_type: str | None = Field(default=mt.OCI_INDEX, alias="mediaType")
    manifests: list[Descriptor] = []
    annotations: dict[str, str] | None = None


class HealthConfig(_Model):
    test: list[Text] | None = Field(default=None, alias="Test")
    interval: int | None = Field(default=None, alias="Interval")
    timeout: int | None = Field(default=None, alias="Timeout")
    start_period: int | None = Field(default=None, alias="StartPeriod")
    start_interval: int | None = Field(default=None, alias="StartInterval")
    retries: int | None = Field(default=None, alias="Retries")


class ContainerConfig(_Model):
    user: User | None = Field(default=None, alias="User")
    exposed_ports: dict[str, dict[str, Any]] | None = Field(default=None, alias="ExposedPorts")
    env: list[Text] | None = Field(default=None, alias="Env")
    entrypoint: list[Text] | None = Field(default=None, alias="Entrypoint")
    cmd: list[Text] | None = Field(default=None, alias="Cmd")
    volumes: dict[Text, dict[str, Any]] | None = Field(default=None, alias="Volumes")
    working_dir: Text | None = Field(default=None, alias="WorkingDir")
    labels: dict[str, str] | None = Field(default=None, alias="Labels")
    stop_signal: Text | None = Field(default=None, alias="StopSignal")
    # Docker extensions that OCI tools carry along untouched.
    healthcheck: HealthConfig | None = Field(default=None, alias="Healthcheck")
    shell: list[Text] | None = Field(default=None, alias="Shell")
    on_build: list[Text] | None = Field(default=None, alias="OnBuild")


class History(_Model):
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool | None = None


class RootFS(_Model):
    type: Literal["layers"] = "layers"
    diff_ids: list[Digest] = []


class ImageConfig(_Model):
    created: str | None = None
    author: str | None = None
    architecture: str = "amd64"
    os: str = "linux"
    variant: str | None = None
    config: ContainerConfig | None = None
    rootfs: RootFS = RootFS()
    history: list[History] | None = None


def dump(model: BaseModel) -> bytes:
    """Canonical bytes for a document we create: aliases, no nulls, compact, sorted."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def parse_as(model: type[_M], data: bytes, what: str, *, strict: bool = False) -> _M:
    """`data` as `model`, or InvalidDocument naming the first bad field. `strict` (for
    documents entering the store) refuses what lax parsing would coerce ("1" for 1)."""
    try:
        return model.model_validate(load_json(data, what), strict=strict)
    except ValidationError as e:
        raise InvalidDocument(f"{what} is malformed: {describe_error(e)}") from None


def describe_error(e: ValidationError) -> str:
    """'config.Env.0: contains a NUL byte': where, then why, on one line."""
    first = e.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "document"
    msg = first["msg"].removeprefix("Value error, ")
    return f"{loc}: {msg}".replace("\n", " ")


def parse_manifest(data: bytes) -> Manifest:
    return parse_as(Manifest, data, "manifest")


def parse_index(data: bytes) -> Index:
    return parse_as(Index, data, "image index")


def parse_config(data: bytes) -> ImageConfig:
    return parse_as(ImageConfig, data, "image config")


from typing import TypeVar  # noqa: E402  (kept low: only parse_as needs it)

_M = TypeVar("_M", bound=BaseModel)
