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
    secret_envs: dict[str, str] = field(factory=dict)  # id -> name of the environment variable holding it
    ssh: dict[str, str] = field(factory=dict)  # id -> ssh-agent socket, for RUN --mount=type=ssh
    # Every RUN step (build/runoptions.py checks them): /etc/hosts lines, /dev/shm size,
    # rlimits (RLIMIT_* number, soft, hard; -1 unlimited), capabilities out of the bounding set.
    add_hosts: list[tuple[str, str]] = field(factory=list)
    shm_size: int | None = None
    ulimits: list[tuple[int, int, int]] = field(factory=list)
    cap_add: list[str] = field(factory=list)
    cap_drop: list[str] = field(factory=list)
    ignorefile: str | None = None  # instead of <context>/.dockerignore
    cache_ttl_ns: int | None = None  # cached steps older than this are rebuilt
    no_cache_stages: list[str] = field(factory=list)  # --no-cache-filter: stage names or indexes
    image_env: dict[str, str] = field(factory=dict)  # --env: set in the final image's config
    # --build-context NAME=...: ("image", REF) for docker-image://, ("dir", PATH) for a directory
    # (URLs were received into one); used by FROM NAME and COPY/RUN --mount from=NAME.
    build_contexts: dict[str, tuple[str, str]] = field(factory=dict)
    allow: list[str] = field(factory=list)  # entitlements, as buildx: security.insecure
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
    # The result: "oci" or "docker" media types; squash None, "new" (the final stage's
    # layers into one) or "all"; outputs as -o gave them (build.outputs parses them).
    format: str = "oci"
    # Stages built at once: 0 every ready one (up to the cores, or 4), 1 one after another.
    jobs: int = 0
    # False for a stage built by a child of a parallel build: no tag, no dangling entry.
    record_result: bool = True
    squash: str | None = None
    outputs: list[str] = field(factory=list)
    # --compression-format/--compression-level for the outputs (a store.variants spec).
    output_compression: str | None = None
    # Edits of the result (buildah's flags): manifest annotations, variables and labels to
    # drop, and whether the final stage keeps its base image's labels.
    annotations: dict[str, str] = field(factory=dict)
    unset_env: list[str] = field(factory=list)
    unset_labels: list[str] = field(factory=list)
    inherit_labels: bool = True
    metadata_file: str | None = None
    signature_policy: str | None = None  # policy.json for pulled base images (--signature-policy)
    registries_d: str | None = None      # where their signatures are stored (--registries.d)
    # Supply-chain attestations attached to the result: an SPDX SBOM (--sbom, written out
    # too with --sbom-output) and SLSA provenance (--provenance mode=min|max).
    sbom: bool = False
    sbom_output: str | None = None
    provenance: str | None = None
    # Reproducibility, as buildah's flags: the time of history entries and `created`
    # (--source-date-epoch, or --build-arg SOURCE_DATE_EPOCH as BuildKit reads it), the
    # same and a clamp on new layers' mtimes (--timestamp), or that clamp added to the
    # source date epoch (--rewrite-timestamp).
    source_date_epoch: int | None = None
    timestamp: int | None = None
    rewrite_timestamp: bool = False
    # buildah --compat-volumes: RUN changes under a declared VOLUME are discarded, as the
    # classic docker builder does (BuildKit keeps them: the default).
    compat_volumes: bool = False
    # --manifest NAME: add the image(s) to this manifest list (created when missing)
    manifest: str | None = None
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
                               RegistryOptions.parse_creds(self.creds), self.signature_policy, self.registries_d)
