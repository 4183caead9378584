"""SBOM and provenance end to end, as the unprivileged user: the debian test image's SBOM
lists exactly what dpkg-query prints inside it (run with our `run`), busybox's is empty
but valid, and a build's attestations validate against their schemas and survive push and
pull (skopeo sees the fallback tag)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TESTDATA = Path(__file__).parents[3] / "testdata"
pytestmark = [pytest.mark.registry, pytest.mark.rootless]  # the builds RUN steps


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def validator(schema_file: Path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_file.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


SPDX = TESTDATA / "sbom" / "spdx-2.3-schema.json"
SLSA = TESTDATA / "provenance" / "slsa-provenance-v1.schema.json"


def deb_packages(doc: dict) -> set[tuple[str, str]]:
    out = set()
    for p in doc["packages"]:
        refs = [r["referenceLocator"] for r in p.get("externalRefs", [])]
        if any(r.startswith("pkg:deb/") for r in refs):
            out.add((p["name"], p["versionInfo"]))
    return out


def test_debian_sbom_lists_what_dpkg_query_prints(rb, seeded_registry, tmp_path):
    image = f"{seeded_registry}/debian:latest"
    ok(rb("pull", "-q", image))
    out = tmp_path / "debian.spdx.json"
    ok(rb("sbom", image, "-o", out))
    doc = json.loads(out.read_text())
    validator(SPDX).validate(doc)
    listed = ok(rb("run", "--rm", image, "dpkg-query", "-W")).stdout
    # dpkg-query shows Multi-Arch: same packages as name:arch; SPDX names are the package names.
    expected = {(line.split("\t")[0].split(":")[0], line.split("\t")[1]) for line in listed.splitlines() if line}
    assert len(expected) > 50
    assert deb_packages(doc) == expected


def test_busybox_sbom_is_empty_but_valid(rb, seeded_registry, tmp_path):
    image = f"{seeded_registry}/busybox:latest"
    ok(rb("pull", "-q", image))
    doc = json.loads(ok(rb("sbom", image)).stdout)
    validator(SPDX).validate(doc)
    assert [p["SPDXID"] for p in doc["packages"]] == ["SPDXRef-Image"]
    cdx = json.loads(ok(rb("sbom", "--format", "cyclonedx-json", image)).stdout)
    assert cdx["specVersion"] == "1.5" and cdx.get("components", []) == []


def test_bad_format_is_one_line(rb, seeded_registry):
    proc = rb("sbom", "--format", "xml", f"{seeded_registry}/busybox:latest")
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1


@pytest.fixture
def built(rb, busybox_tar, tmp_path):
    ok(rb("import", "-c", 'CMD ["sh"]', busybox_tar, "sbom-src/busybox:1"))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM sbom-src/busybox:1\nARG GREETING=hi\nARG DB_PASSWORD\n"
                                    "COPY app /app/\nRUN echo \"$GREETING\" > /app/greeting\n"
                                    "COPY METADATA /usr/lib/python3/site-packages/demo-1.0.dist-info/\n")
    (ctx / "app").write_text("hello\n")
    (ctx / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-never-anywhere")
    sbom_out = tmp_path / "out.spdx.json"
    ok(rb("build", "-q", "--sbom-output", sbom_out, "--provenance", "mode=max", "--build-arg", "GREETING=hello",
          "--build-arg", "DB_PASSWORD=hunter2", "--secret", f"id=tok,src={secret}", "-t", "sbom-app:1", ctx))
    return ctx, sbom_out


def test_build_attaches_sbom_and_provenance(rb, built):
    ctx, sbom_out = built
    sbom = json.loads(sbom_out.read_text())
    validator(SPDX).validate(sbom)
    assert {(p["name"], p.get("versionInfo")) for p in sbom["packages"]} >= {("demo", "1.0")}
    assert json.loads(ok(rb("sbom", "sbom-app:1")).stdout) == sbom  # the attached one
    (statement,) = json.loads(ok(rb("inspect", "--provenance", "sbom-app:1")).stdout)
    validator(SLSA).validate(statement)
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["request"]["args"] == {"GREETING": "hello", "DB_PASSWORD": "<redacted>"}
    import hashlib

    assert definition["externalParameters"]["configSource"]["digest"]["sha256"] == \
        hashlib.sha256((ctx / "Dockerfile").read_bytes()).hexdigest()
    base = json.loads(ok(rb("inspect", "sbom-src/busybox:1")).stdout)[0]
    deps = definition["resolvedDependencies"]
    assert any(d.get("name") == "sbom-src/busybox:1" for d in deps)
    assert any(d.get("uri") == "context" for d in deps)
    image = json.loads(ok(rb("inspect", "sbom-app:1")).stdout)[0]
    assert statement["subject"][0]["digest"]["sha256"] in json.dumps(image) or statement["subject"][0]["name"]
    for text in (json.dumps(statement), json.dumps(sbom)):
        assert "s3cr3t-never-anywhere" not in text and "hunter2" not in text
    assert base["Id"]


def test_attestations_survive_push_and_pull(rb, tool, built, registry, tmp_path):
    ref = f"{registry}/sbom-e2e/app:1"
    ok(rb("tag", "sbom-app:1", ref))
    ok(rb("push", "-q", ref))
    digest = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"docker://{ref}").stdout)["Digest"]
    raw = tool("skopeo", "inspect", "--raw", "--tls-verify=false",
               f"docker://{registry}/sbom-e2e/app:sha256-{digest.split(':')[1]}").stdout
    index = json.loads(raw)
    types = sorted(m["artifactType"] for m in index["manifests"])
    assert types == ["application/spdx+json", "application/vnd.in-toto+json"]
    artifact = json.loads(tool("skopeo", "inspect", "--raw", "--tls-verify=false",
                               f"docker://{registry}/sbom-e2e/app@{index['manifests'][0]['digest']}").stdout)
    assert artifact["subject"]["digest"] == digest
    other_root = tmp_path / "fresh-store"
    ok(rb("--root", other_root, "pull", "-q", ref))
    pulled = json.loads(ok(rb("--root", other_root, "sbom", ref)).stdout)
    assert pulled == json.loads(ok(rb("sbom", "sbom-app:1")).stdout)
    (statement,) = json.loads(ok(rb("--root", other_root, "inspect", "--provenance", ref)).stdout)
    validator(SLSA).validate(statement)


@pytest.mark.parametrize("fmt", ["oci-archive", "oci-dir"])
def test_attestations_survive_save_and_load(rb, tool, built, tmp_path, fmt):
    out = tmp_path / ("saved.tar" if fmt == "oci-archive" else "saved-dir")
    ok(rb("save", "--format", fmt, "-o", out, "sbom-app:1"))
    source = f"{fmt}:{out}:sbom-app:1" if fmt == "oci-archive" else f"oci:{out}:sbom-app:1"
    tool("skopeo", "inspect", source)  # the layout still reads as the image for skopeo
    other_root = tmp_path / "loaded-store"
    ok(rb("--root", other_root, "load", "-i", out))
    assert json.loads(ok(rb("--root", other_root, "sbom", "sbom-app:1")).stdout) == \
        json.loads(ok(rb("sbom", "sbom-app:1")).stdout)
    (statement,) = json.loads(ok(rb("--root", other_root, "inspect", "--provenance", "sbom-app:1")).stdout)
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    images = ok(rb("--root", other_root, "images")).stdout.splitlines()
    assert len(images) == 2, images  # the header and the image: attestations are no images


def test_provenance_records_add_urls_with_their_digest(rb, busybox_tar, tmp_path):
    """ADD of an http URL (a real server on loopback): the URL and the sha256 of what was
    downloaded are among the resolved dependencies; min mode has no context digest."""
    import functools
    import hashlib
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "tool.txt").write_text("downloaded content\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tool.txt"
        ok(rb("import", busybox_tar, "prov-src/busybox:1"))
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM prov-src/busybox:1\nADD {url} /opt/tool.txt\n")
        ok(rb("build", "-q", "--provenance", "mode=min", "-t", "prov-app:1", ctx))
    finally:
        server.shutdown()
        server.server_close()
    (statement,) = json.loads(ok(rb("inspect", "--provenance", "prov-app:1")).stdout)
    validator(SLSA).validate(statement)
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    expected = hashlib.sha256(b"downloaded content\n").hexdigest()
    assert {"uri": url, "digest": {"sha256": expected}} in deps
    assert not any(d.get("uri") == "context" for d in deps)
    assert "dockerfile" not in statement["predicate"]["buildDefinition"]["externalParameters"]["configSource"]


def test_gc_keeps_attestations_with_their_image_and_drops_them_after(rb, built):
    image = json.loads(ok(rb("inspect", "sbom-app:1")).stdout)[0]
    record = Path(rb.root) / "cache" / "referrers" / image["Digest"].replace(":", "-")
    assert record.is_file()
    entries = json.loads(record.read_text())["manifests"]
    artifact_blobs = [Path(rb.root) / "blobs" / "sha256" / e["digest"].split(":")[1] for e in entries]
    ok(rb("prune", "-f"))
    assert all(p.is_file() for p in artifact_blobs) and record.is_file()
    assert ok(rb("sbom", "sbom-app:1")).stdout
    ok(rb("rmi", "sbom-app:1"))
    ok(rb("prune", "-f"))  # the build cache still holds the image's manifest, so its attestations stay
    assert record.is_file()
    ok(rb("prune", "-a", "-f"))
    assert not record.exists() and not any(p.exists() for p in artifact_blobs)


def test_a_fallback_index_naming_foreign_manifests_is_ignored_on_pull(rb, tool, busybox_tar, registry, tmp_path):
    """A `sha256-<hex>` index listing a manifest that is no attestation of the image (here
    the image itself, dressed as an SBOM): pull succeeds and attaches nothing."""
    import urllib.request

    ok(rb("import", busybox_tar, "sbom-src/plain:1"))
    ref = f"{registry}/sbom-e2e/foreign:1"
    ok(rb("tag", "sbom-src/plain:1", ref))
    ok(rb("push", "-q", ref))
    digest = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"docker://{ref}").stdout)["Digest"]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                            "size": 1, "artifactType": "application/spdx+json"}]}
    put = urllib.request.Request(f"http://{registry}/v2/sbom-e2e/foreign/manifests/sha256-{digest.split(':')[1]}",
                                 data=json.dumps(index).encode(), method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    urllib.request.urlopen(put).close()
    other_root = tmp_path / "fresh"
    ok(rb("--root", other_root, "pull", "-q", ref))
    assert not (other_root / "cache" / "referrers").exists() or not any((other_root / "cache" / "referrers").iterdir())
