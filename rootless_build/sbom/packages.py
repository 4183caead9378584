"""What each package database in an image says is installed: one function per format,
each taking the bytes of the database file and returning `Package`s."""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Package:
    type: str            # purl type: deb, apk, rpm, pypi, npm, golang, maven
    name: str
    version: str
    location: str        # the file in the image that lists it
    namespace: str = ""  # purl namespace (a distribution, a maven group, a go module path's host part)
    arch: str = ""
    license: str = ""

    @property
    def purl(self) -> str:
        name = quote(self.name, safe="/" if self.type == "golang" else "")
        ns = "/".join(quote(p, safe="") for p in self.namespace.split("/")) + "/" if self.namespace else ""
        out = f"pkg:{self.type}/{ns}{name}"
        if self.version:
            out += "@" + quote(self.version, safe="+")
        if self.arch:
            out += f"?arch={quote(self.arch, safe='')}"
        return out


def _paragraphs(text: str) -> list[dict[str, str]]:
    """Debian control / apk index paragraphs: 'Key: value' (continuations folded)."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, last = {}, None
        elif line[0] in " \t":
            if last:
                current[last] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            current[key] = value.strip()
            last = key
    if current:
        out.append(current)
    return out


def dpkg(data: bytes, location: str, distro: str = "debian") -> list[Package]:
    """var/lib/dpkg/status (or a status.d/ file): every package dpkg-query -W lists, i.e.
    any state but not-installed."""
    out = []
    for p in _paragraphs(data.decode("utf-8", "replace")):
        if "Package" not in p or p.get("Status", "x installed").split()[-1] == "not-installed":
            continue
        out.append(Package("deb", p["Package"], p.get("Version", ""), location, distro, p.get("Architecture", "")))
    return out


def apk(data: bytes, location: str, distro: str = "alpine") -> list[Package]:
    """lib/apk/db/installed: one-letter fields (P name, V version, A arch, L license)."""
    out = []
    for block in data.decode("utf-8", "replace").split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if len(line) > 1 and line[1] == ":")
        if "P" in fields:
            out.append(Package("apk", fields["P"], fields.get("V", ""), location, distro, fields.get("A", ""),
                               fields.get("L", "")))
    return out


def python_metadata(data: bytes, location: str) -> list[Package]:
    """A dist-info METADATA or egg-info PKG-INFO file: RFC 822 headers."""
    headers: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break
        if line[0] not in " \t":
            key, _, value = line.partition(":")
            headers.setdefault(key.strip().lower(), value.strip())
    if not headers.get("name"):
        return []
    return [Package("pypi", headers["name"], headers.get("version", ""), location, license=headers.get("license", ""))]


def npm(data: bytes, location: str) -> list[Package]:
    """node_modules/NAME/package.json."""
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        return []
    scope, _, name = doc["name"].rpartition("/")
    raw_license = doc.get("license")
    license = raw_license if isinstance(raw_license, str) else ""
    return [Package("npm", name, str(doc.get("version", "")), location, scope, license=license)]


_POM = re.compile(rb"^(groupId|artifactId|version)=(.*)$", re.MULTILINE)


def jar(zipped, location: str) -> list[Package]:
    """A Java archive: META-INF/maven/*/*/pom.properties when present, else the manifest."""
    import zipfile

    try:
        with zipfile.ZipFile(zipped) as z:
            names = z.namelist()
            poms = [n for n in names if n.startswith("META-INF/maven/") and n.endswith("/pom.properties")]
            out = []
            for pom in poms:
                props = {k.decode(): v.decode("utf-8", "replace").strip() for k, v in _POM.findall(z.read(pom))}
                if props.get("artifactId"):
                    out.append(Package("maven", props["artifactId"], props.get("version", ""), location,
                                       props.get("groupId", "")))
            if out:
                return out
            if "META-INF/MANIFEST.MF" not in names:
                return []
            manifest = _paragraphs(z.read("META-INF/MANIFEST.MF").decode("utf-8", "replace"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return []
    main = manifest[0] if manifest else {}
    name = (main.get("Implementation-Title") or main.get("Bundle-SymbolicName") or main.get("Specification-Title")
            or location.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    version = main.get("Implementation-Version") or main.get("Bundle-Version") or main.get("Specification-Version", "")
    return [Package("maven", name.split(";")[0].strip(), version, location, main.get("Implementation-Vendor-Id", ""))]


# -- rpm --------------------------------------------------------------------------------------

_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1014: "license", 1022: "arch"}


def rpm_header(blob: bytes) -> dict[str, str]:
    """The fields we need from an rpm header blob (as rpmdb stores it: no lead, no magic)."""
    if len(blob) < 8:
        return {}
    count, size = struct.unpack(">ii", blob[:8])
    data_start = 8 + 16 * count
    if count <= 0 or size < 0 or data_start + size > len(blob):
        return {}
    data = blob[data_start:data_start + size]
    out: dict[str, str] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack(">iiii", blob[8 + 16 * i:24 + 16 * i])
        if tag not in _RPM_TAGS or not 0 <= offset < len(data):
            continue
        if kind in (6, 8, 9):  # STRING, STRING_ARRAY, I18NSTRING: the first NUL-terminated string
            out[_RPM_TAGS[tag]] = data[offset:data.find(b"\0", offset)].decode("utf-8", "replace")
        elif kind == 4 and offset + 4 <= len(data):  # INT32
            out[_RPM_TAGS[tag]] = str(struct.unpack(">i", data[offset:offset + 4])[0])
    return out


def rpm_sqlite(path: str, location: str, distro: str = "") -> list[Package]:
    """rpmdb.sqlite (rpm >= 4.16: Fedora 33+, RHEL 9+): header blobs in table Packages."""
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            rows = con.execute("SELECT blob FROM Packages").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []
    return _rpm_packages((bytes(blob) for (blob,) in rows), location, distro)


def rpm_bdb(f, location: str, distro: str = "") -> list[Package]:
    """var/lib/rpm/Packages, the Berkeley DB hash of RHEL/CentOS <= 8 (see sbom.rpmbdb)."""
    from rootless_build.sbom.rpmbdb import header_blobs

    return _rpm_packages(header_blobs(f), location, distro)


def _rpm_packages(blobs, location: str, distro: str) -> list[Package]:
    out = []
    for blob in blobs:
        h = rpm_header(blob)
        if not h.get("name"):
            continue
        version = f"{h.get('version', '')}-{h['release']}" if h.get("release") else h.get("version", "")
        if h.get("epoch") and h["epoch"] != "0":
            version = f"{h['epoch']}:{version}"
        out.append(Package("rpm", h["name"], version, location, distro, h.get("arch", ""), h.get("license", "")))
    return out
