"""What `build` was asked to do (the CLI fills it; tests may too)."""

from __future__ import annotations

from rootless_build.record import Record, field


class BuildOptions(Record):
    context_dir: str = "."
    dockerfile: str | None = None  # path; "-" reads stdin (dockerfile_text then holds it)
    dockerfile_text: str | None = None
    tags: list[str] = field(factory=list)
    build_args: dict[str, str] = field(factory=dict)
    target: str | None = None
    no_cache: bool = False
    # Base images: False/"missing" pulls what the store lacks, True/"always" asks the
    # registry every time, "newer" falls back to the store's copy offline, "never" never pulls.
    pull: bool | str = False
    labels: dict[str, str] = field(factory=dict)
    iidfile: str | None = None
    quiet: bool = False
    platform: str | None = None
    network: str | None = None  # default for RUN: host network unless "none"
    secrets: dict[str, str] = field(factory=dict)  # id -> file, for RUN --mount=type=secret
    storage_driver: str | None = None
    isolation: str | None = None  # oci | rootless | chroot; None: the best this place allows
    # A build cache shared through registries: REGISTRY/REPO[:TAG] (tag "buildcache").
    cache_from: list[str] = field(factory=list)
    cache_to: list[str] = field(factory=list)
    # How to reach registries (pulls, --cache-from, --cache-to), as podman's flags.
    tls_verify: bool | None = None
    cert_dir: str | None = None
    authfile: str | None = None
    creds: str | None = None  # USER[:PASSWORD]
    # Images FROM and --from found during this build: each is looked up (pulled) once.
    found_images: dict = field(factory=dict)

    def pull_policy(self) -> str:
        if self.pull is True:
            return "always"
        if self.pull is False or self.pull is None:
            return "missing"
        return {"true": "always", "false": "missing"}.get(str(self.pull).lower(), str(self.pull).lower())

    def registry_options(self):
        from rootless_build.registry.options import RegistryOptions

        return RegistryOptions(self.tls_verify, self.cert_dir, self.authfile,
                               RegistryOptions.parse_creds(self.creds))
