"""SBOM documents: SPDX 2.3 JSON through spdx-tools, CycloneDX 1.5 JSON through
cyclonedx-python-lib (each the reference library of its own specification's project;
neither writes the other's format). Only the library of the format asked for is imported.

The image is the document's root package (SPDX: DESCRIBES it, and it CONTAINS every
package found; CycloneDX: metadata.component, depending on every component).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime

from rootless_build import __version__
from rootless_build.errors import UsageError
from rootless_build.sbom.packages import Package

FORMATS = ("spdx-json", "cyclonedx-json")
MEDIA_TYPES = {"spdx-json": "application/spdx+json", "cyclonedx-json": "application/vnd.cyclonedx+json"}
TOOL = f"rootless-build-{__version__}"


def _created() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def _ref(p: Package, i: int, prefix: str = "SPDXRef-") -> str:
    """An SPDX id / bom-ref unique in the document and stable for the same package."""
    digest = hashlib.sha256(f"{p.type}/{p.namespace}/{p.name}@{p.version}:{p.location}".encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in ".-" else "-" for c in f"{p.type}-{p.name}")
    return f"{prefix}Package-{safe}-{digest}"


def render(fmt: str, image_name: str, manifest_digest: str, packages: list[Package]) -> bytes:
    if fmt == "spdx-json":
        return spdx(image_name, manifest_digest, packages)
    if fmt == "cyclonedx-json":
        return cyclonedx(image_name, manifest_digest, packages)
    raise UsageError(f"unknown SBOM format {fmt!r} (choose {', '.join(FORMATS)})")


def spdx(image_name: str, manifest_digest: str, packages: list[Package]) -> bytes:
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        CreationInfo,
        Document,
        ExternalPackageRef,
        ExternalPackageRefCategory,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )
    from spdx_tools.spdx.model import Package as SpdxPackage

    hexpart = manifest_digest.split(":", 1)[-1]
    info = CreationInfo(spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name=image_name or hexpart[:12],
                        document_namespace=f"https://rootless-build.invalid/spdx/{hexpart}",
                        creators=[Actor(ActorType.TOOL, TOOL)], created=_created())
    root = SpdxPackage(spdx_id="SPDXRef-Image", name=image_name or manifest_digest,
                       download_location=SpdxNoAssertion(), version=manifest_digest, files_analyzed=False,
                       license_concluded=SpdxNoAssertion(), license_declared=SpdxNoAssertion(),
                       copyright_text=SpdxNoAssertion(), comment="container image (OCI manifest digest as version)")
    spdx_packages = [root]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-Image")]
    for i, p in enumerate(packages):
        ref = _ref(p, i)
        spdx_packages.append(SpdxPackage(
            spdx_id=ref, name=p.name, download_location=SpdxNoAssertion(), version=p.version or None,
            files_analyzed=False, license_concluded=SpdxNoAssertion(), license_declared=SpdxNoAssertion(),
            copyright_text=SpdxNoAssertion(), source_info=f"found in {p.location}",
            external_references=[ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", p.purl)]))
        relationships.append(Relationship("SPDXRef-Image", RelationshipType.CONTAINS, ref))
    document = Document(creation_info=info, packages=spdx_packages, relationships=relationships)
    # spdx-tools' own JSON converter, without its writer module: that one loads the validator
    # too (~15% of the library's import time); the model is built from typed values here and
    # the tests validate the output against the SPDX 2.3 JSON schema.
    doc = DocumentConverter().convert(document)
    for package in doc.get("packages", []):
        for ref in package.get("externalRefs", []):
            # spdx-tools writes the enum member's name (PACKAGE_MANAGER); the SPDX 2.3 JSON
            # schema (v2.3 tag) accepts only PACKAGE-MANAGER, which 2.3.1 keeps as the first spelling.
            if ref.get("referenceCategory") == "PACKAGE_MANAGER":
                ref["referenceCategory"] = "PACKAGE-MANAGER"
    return json.dumps(doc, indent=2).encode() + b"\n"


def cyclonedx(image_name: str, manifest_digest: str, packages: list[Package]) -> bytes:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot5
    from packageurl import PackageURL

    bom = Bom()
    root = Component(name=image_name or manifest_digest, version=manifest_digest, type=ComponentType.CONTAINER,
                     bom_ref="image")
    bom.metadata.component = root
    bom.metadata.timestamp = _created()
    components = []
    for i, p in enumerate(packages):
        c = Component(name=p.name, version=p.version or None, type=ComponentType.LIBRARY, bom_ref=_ref(p, i, ""),
                      purl=PackageURL.from_string(p.purl))
        bom.components.add(c)
        components.append(c)
    bom.register_dependency(root, components)
    return JsonV1Dot5(bom).output_as_string(indent=None).encode()
