"""Package discovery over layer tars (flattening, whiteouts, every database format) and
the documents written from it, validated against the SPDX 2.3 and CycloneDX 1.5 schemas."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import sqlite3
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from rootless_build.sbom import document
from rootless_build.sbom.scan import find_packages

TESTDATA = Path(__file__).parents[3] / "testdata"

DPKG = b"""Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: gone
Status: purge ok not-installed
Version: 1.0

Package: conffiles-left
Status: deinstall ok config-files
Architecture: all
Version: 0.5-1
"""
APK = b"P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\n\n"


def layer(files: dict[str, bytes | None], *, compress: bool = False, mode: int = 0o644) -> bytes:
    """A layer tar: path -> content (None: a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw) if compress else raw


def openers(*layers_top_first: bytes):
    def opener(data: bytes):
        @contextlib.contextmanager
        def open_layer():
            stream = io.BytesIO(data)
            if data[:2] == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=stream) as g:
                    yield g
            else:
                yield stream
        return open_layer
    return [(f"layer{i}", opener(d)) for i, d in enumerate(layers_top_first)]


def names(pkgs):
    return sorted((p.type, p.name, p.version) for p in pkgs)


def test_dpkg_lists_what_dpkg_query_would():
    pkgs = find_packages(openers(layer({"etc/os-release": b'ID=debian\n', "var/lib/dpkg/status": DPKG})))
    assert names(pkgs) == [("deb", "conffiles-left", "0.5-1"), ("deb", "libc6", "2.36-9+deb12u4")]
    assert pkgs[1].purl == "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64"


def test_upper_layers_win_and_whiteouts_hide():
    base = layer({"lib/apk/db/installed": APK, "usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA":
                  b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n\nbody\n",
                  "app/node_modules/left-pad/package.json": b'{"name": "left-pad", "version": "1.3.0"}',
                  "app/node_modules/@scope/thing/package.json": b'{"name": "@scope/thing", "version": "2.0.0"}'})
    upper = layer({"lib/apk/db/installed": b"P:musl\nV:1.2.5-r0\nA:x86_64\n\n",
                   "usr/lib/python3/site-packages/.wh.six-1.16.0.dist-info": b"",
                   "app/node_modules/.wh..wh..opq": b""}, compress=True)
    pkgs = find_packages(openers(upper, base))
    assert names(pkgs) == [("apk", "musl", "1.2.5-r0")]
    pkgs = find_packages(openers(base))
    assert names(pkgs) == [("apk", "busybox", "1.36.1-r5"), ("apk", "musl", "1.2.4-r2"), ("npm", "left-pad", "1.3.0"),
                           ("npm", "thing", "2.0.0"), ("pypi", "six", "1.16.0")]
    assert [p.purl for p in pkgs if p.name == "thing"] == ["pkg:npm/%40scope/thing@2.0.0"]


def test_egg_info_and_jars():
    jar_pom = io.BytesIO()
    with zipfile.ZipFile(jar_pom, "w") as z:
        z.writestr("META-INF/maven/org.example/lib/pom.properties",
                   "groupId=org.example\nartifactId=lib\nversion=1.2\n")
    jar_manifest = io.BytesIO()
    with zipfile.ZipFile(jar_manifest, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Title: tool\n"
                                           "Implementation-Version: 3.4\n")
    pkgs = find_packages(openers(layer({
        "usr/lib/python3/dist-packages/pkg.egg-info/PKG-INFO": b"Name: oldpkg\nVersion: 0.9\n",
        "opt/a.jar": jar_pom.getvalue(), "opt/b.jar": jar_manifest.getvalue()})))
    assert names(pkgs) == [("maven", "lib", "1.2"), ("maven", "tool", "3.4"), ("pypi", "oldpkg", "0.9")]
    assert next(p for p in pkgs if p.name == "lib").purl == "pkg:maven/org.example/lib@1.2"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_go_binary_build_info(compress):
    """A real Go binary of this machine (skopeo): its main module is found."""
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("no Go binary (skopeo) on this machine")
    data = Path(binary).read_bytes()
    pkgs = find_packages(openers(layer({"usr/bin/skopeo": data}, compress=compress, mode=0o755)))
    paths = {f"{p.namespace}/{p.name}" for p in pkgs if p.type == "golang"}
    assert any(path.startswith("github.com/containers/skopeo") for path in paths), paths
    stdlib = [p for p in pkgs if p.name == "stdlib"]
    assert stdlib and stdlib[0].version.startswith("go1."), names(pkgs)


def _rpm_header(fields: dict[int, tuple[int, bytes]]) -> bytes:
    index, data = b"", b""
    for tag, (kind, value) in fields.items():
        index += struct.pack(">iiii", tag, kind, len(data), 1)
        data += value
    return struct.pack(">ii", len(fields), len(data)) + index + data


def test_rpm_sqlite_database(tmp_path):
    db = tmp_path / "rpmdb.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    blob = _rpm_header({1000: (6, b"bash\0"), 1001: (6, b"5.2.15\0"), 1002: (6, b"3.fc38\0"),
                        1022: (6, b"x86_64\0"), 1003: (4, struct.pack(">i", 0))})
    con.execute("INSERT INTO Packages (blob) VALUES (?)", (blob,))
    con.commit()
    con.close()
    pkgs = find_packages(openers(layer({"etc/os-release": b"ID=fedora\n",
                                        "var/lib/rpm/rpmdb.sqlite": db.read_bytes()})))
    assert names(pkgs) == [("rpm", "bash", "5.2.15-3.fc38")]
    assert pkgs[0].purl == "pkg:rpm/fedora/bash@5.2.15-3.fc38?arch=x86_64"


def _spdx_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((TESTDATA / "sbom" / "spdx-2.3-schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_spdx_document_is_valid_and_lists_the_packages():
    pkgs = find_packages(openers(layer({"var/lib/dpkg/status": DPKG, "lib/apk/db/installed": APK})))
    doc = json.loads(document.render("spdx-json", "app:1", "sha256:" + "0" * 64, pkgs))
    _spdx_validator().validate(doc)
    assert doc["spdxVersion"] == "SPDX-2.3"
    listed = sorted((p["name"], p.get("versionInfo")) for p in doc["packages"] if p["SPDXID"] != "SPDXRef-Image")
    assert listed == sorted((p.name, p.version) for p in pkgs)
    contains = [r for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contains) == len(pkgs)


def test_empty_spdx_document_is_valid():
    doc = json.loads(document.render("spdx-json", "empty:1", "sha256:" + "1" * 64, []))
    _spdx_validator().validate(doc)
    assert [p["SPDXID"] for p in doc["packages"]] == ["SPDXRef-Image"]


def test_cyclonedx_document_is_valid():
    pytest.importorskip("jsonschema")
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    pkgs = find_packages(openers(layer({"var/lib/dpkg/status": DPKG})))
    raw = document.render("cyclonedx-json", "app:1", "sha256:" + "0" * 64, pkgs).decode()
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(raw) is None
    doc = json.loads(raw)
    assert doc["specVersion"] == "1.5"
    assert sorted(c["name"] for c in doc["components"]) == ["conffiles-left", "libc6"]


def test_layer_summaries_are_cached_by_digest():
    class Cache(dict):
        def put(self, key, value):
            self[key] = json.loads(json.dumps(value))  # what a JSON record gives back

    cache = Cache()
    base = layer({"etc/os-release": b"ID=debian\n", "var/lib/dpkg/status": DPKG})
    first = find_packages(openers(base), cache)
    assert set(cache) == {"layer0"}

    def refuse():
        raise AssertionError("a cached layer was read again")

    assert find_packages([("layer0", refuse)], cache) == first
    # A path of an upper layer shadows the lower one even when the upper file is not a database.
    upper = layer({"var/lib/dpkg/status": b""})
    assert find_packages(openers(upper, base), Cache()) == []


def test_rpm_berkeley_db(tmp_path):
    """A Packages hash database made by libdb's own db_load (header blobs of 10+ KB, so on
    overflow pages as rpm's are), read without libdb."""
    import binascii
    import subprocess

    db_load = shutil.which("db5.3_load") or shutil.which("db_load")
    if db_load is None:
        pytest.skip("db_load not installed (db5.3-util; make setup)")
    blobs = [_rpm_header({1000: (6, name + b"\0"), 1001: (6, b"1.0\0"), 1002: (6, b"1.el8\0"),
                          1022: (6, b"x86_64\0"), 1014: (6, b"MIT\0" + b"x" * 12000)})
             for name in (b"zlib", b"openssl-libs", b"bash")]
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for i, blob in enumerate(blobs, 1):
        dump += [" " + i.to_bytes(4, "little").hex(), " " + binascii.hexlify(blob).decode()]
    dump.append("DATA=END")
    (tmp_path / "dump").write_text("\n".join(dump) + "\n")
    subprocess.run([db_load, "-f", tmp_path / "dump", tmp_path / "Packages"], check=True)
    pkgs = find_packages(openers(layer({"etc/os-release": b'ID="centos"\n',
                                        "var/lib/rpm/Packages": (tmp_path / "Packages").read_bytes()})))
    assert names(pkgs) == [("rpm", "bash", "1.0-1.el8"), ("rpm", "openssl-libs", "1.0-1.el8"),
                           ("rpm", "zlib", "1.0-1.el8")]
    assert pkgs[0].purl == "pkg:rpm/centos/bash@1.0-1.el8?arch=x86_64"
