"""`rootless-build build`: docker's and buildah's flags over build.builder.build()."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

import click

from rootless_build.cli import common
from rootless_build.errors import UsageError


@click.command("build", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("context", required=False, default=".")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag (name:tag); repeatable.")
@click.option("-f", "--file", "dockerfile", metavar="PATH", help="Dockerfile to use ('-' reads stdin).")
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY[=VALUE]", help="Set a build argument.")
@click.option("--target", help="Build this stage (and what it needs) only.")
@click.option("--no-cache", is_flag=True, help="Do not use cached steps (they are still recorded).")
@click.option("--pull", is_flag=True, help="Pull base images even when present.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a label to the image.")
@click.option("--iidfile", metavar="FILE", help="Write the image ID to FILE.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT][,...]",
              help="Target platform(s); several build an image each, kept as a manifest list under the tag.")
@click.option("--manifest", metavar="NAME", help="Add the image(s) to this manifest list (created if missing).")
@click.option("--network", type=click.Choice(["default", "host", "none"]), help="Network for RUN steps.")
@click.option("--allow", "allow", multiple=True, type=click.Choice(["security.insecure"]),
              help="Allow an entitlement (security.insecure: RUN --security=insecure).")
@click.option("--secret", "secrets", multiple=True, metavar="id=ID,src=FILE|env=VAR",
              help="A secret for RUN --mount=type=secret, from a file or an environment variable.")
@click.option("--ssh", "ssh", multiple=True, metavar="default|ID=SOCKET|ID=KEYFILE[,KEYFILE]",
              help="An ssh-agent socket (or keys loaded into a private agent) for RUN --mount=type=ssh.")
@click.option("--add-host", "add_hosts", multiple=True, metavar="HOST:IP", help="Add a line to RUN steps' /etc/hosts.")
@click.option("--shm-size", metavar="SIZE", help="Size of RUN steps' /dev/shm (default 64m).")
@click.option("--ulimit", "ulimits", multiple=True, metavar="NAME=SOFT[:HARD]", help="A resource limit for RUN steps.")
@click.option("--cap-add", "cap_add", multiple=True, metavar="CAP", help="A capability RUN steps keep.")
@click.option("--cap-drop", "cap_drop", multiple=True, metavar="CAP", help="A capability RUN steps lose (ALL: all).")
@click.option("--ignorefile", metavar="FILE", help="Use FILE instead of the context's .dockerignore.")
@click.option("--cache-ttl", metavar="DURATION", help="Rebuild cached steps older than this (e.g. 24h).")
@click.option("--no-cache-filter", "no_cache_filter", multiple=True, metavar="STAGE",
              help="Do not use the cache for these stages (names or indexes).")
@click.option("--env", "image_env", multiple=True, metavar="KEY[=VALUE]", help="Set an ENV in the built image.")
@click.option("--build-context", "build_contexts", multiple=True, metavar="NAME=DIR|docker-image://REF|URL",
              help="A named context for FROM NAME and COPY --from=NAME.")
@click.option("--layers/--no-layers", default=True, hidden=True, help="Accepted for buildah compatibility.")
@click.option("--cache-from", "cache_from", multiple=True, metavar="REGISTRY/REPO[:TAG]",
              help="Use steps cached in this registry repository (tag buildcache).")
@click.option("--cache-to", "cache_to", multiple=True, metavar="REGISTRY/REPO[:TAG]",
              help="Push every step's result to this registry cache.")
@click.option("--tls-verify", type=click.BOOL, is_flag=False, flag_value=True, default=None,
              help="Require HTTPS and verify certificates for registries (false: allow plain HTTP).")
@click.option("--cert-dir", type=click.Path(file_okay=False), help="Directory with registry CA/client files.")
@click.option("--authfile", type=click.Path(dir_okay=False), help="Registry auth file to use.")
@click.option("--creds", metavar="USER[:PASSWORD]", help="Credentials for the registries.")
@click.option("-o", "--output", "outputs", multiple=True, metavar="type=TYPE[,KEY=VALUE...]|DIR|-",
              help="Also write the result: type=local,dest=DIR | type=tar,dest=FILE|- | "
                   "type=oci,dest=FILE[,tar=false] | type=docker,dest=FILE | type=image,name=REF[,push=true].")
@click.option("--compression-format", type=click.Choice(["gzip", "zstd", "zstd:chunked", "none"]),
              help="Layer compression of the oci/docker/registry outputs.")
@click.option("--compression-level", type=int, help="Compression level of the outputs (gzip 0-9, zstd 1-22).")
@click.option("--format", "image_format", type=click.Choice(["oci", "docker", "text", "json"]),
              envvar="BUILDAH_FORMAT",
              help="Media types of the image: oci (default) or docker (Docker schema 2); with --check, "
                   "the lint output: text (default) or json.")
@click.option("--progress", type=click.Choice(["auto", "plain", "tty", "quiet", "rawjson"]), default="auto",
              show_default=True, help="Output: stages as groups, redrawn (tty; auto on a terminal), buildah's "
                                      "lines (plain; auto elsewhere), none but the ID (quiet), or one JSON "
                                      "object per event (rawjson).")
@click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stages built at once (0: as many as are ready, up to the cores or 4; 1: one after another).")
@click.option("--squash", is_flag=True, help="Merge the final stage's new layers into one.")
@click.option("--squash-all", is_flag=True, help="Merge every layer of the image into one.")
@click.option("--annotation", "annotations", multiple=True, metavar="[manifest:]KEY=VALUE",
              help="Add an annotation to the image manifest.")
@click.option("--unsetenv", "unset_env", multiple=True, metavar="NAME", help="Drop a variable from the image.")
@click.option("--unsetlabel", "unset_labels", multiple=True, metavar="NAME", help="Drop a label from the image.")
@click.option("--inherit-labels", type=click.BOOL, default=True, show_default=True,
              help="Keep the labels of the final stage's base image.")
@click.option("--metadata-file", metavar="FILE", help="Write the result's digests and names to FILE (JSON).")
@click.option("--check", is_flag=True, help="Lint the Dockerfile only (BuildKit's rules); no build.")
@click.option("--call", metavar="build|check[,format=json]",
              help="buildx's spelling: --call check is --check; format=json prints the lint result as JSON.")
@click.option("--list-rules", is_flag=True, help="List the lint rules and exit.")
@click.option("--signature-policy", type=click.Path(dir_okay=False),
              help="Trust policy for pulled base images (default ~/.config/containers/policy.json).")
@click.option("--registries.d", "registries_d", type=click.Path(file_okay=False),
              help="Where base images' signature storage is configured.")
@click.option("--sbom", is_flag=True, help="Attach an SPDX 2.3 SBOM of the image (an OCI artifact).")
@click.option("--sbom-output", metavar="FILE", help="Also write the SBOM to FILE (implies --sbom).")
@click.option("--provenance", metavar="mode=min|max", help="Attach SLSA v1 provenance (an in-toto statement).")
@click.option("--source-date-epoch", type=click.IntRange(min=0), metavar="SECONDS",
              help="Date history entries and the image `created` at SECONDS since the epoch; a stage "
                   "declaring ARG SOURCE_DATE_EPOCH sees it (as --build-arg SOURCE_DATE_EPOCH=SECONDS).")
@click.option("--rewrite-timestamp", is_flag=True,
              help="With a source date epoch: clamp the mtimes of new layers' files to it too.")
@click.option("--timestamp", type=click.IntRange(min=0), metavar="SECONDS",
              help="Date history, `created` and (clamped) new layers' files at SECONDS since the epoch.")
@click.option("--compat-volumes", is_flag=True,
              help="Discard what RUN writes under a declared VOLUME, as docker's classic builder does.")
@click.option("--isolation", type=click.Choice(["oci", "rootless", "chroot"]),
              help="How RUN steps are isolated (default: the best this place allows).")
@click.pass_context
def build(ctx: click.Context, context: str, tags, dockerfile, build_args, target, no_cache, pull, labels,
          iidfile, quiet, platform, network, allow, secrets, layers, cache_from, cache_to, tls_verify, cert_dir,
          authfile, creds, outputs, image_format, progress, jobs, squash, squash_all, annotations, unset_env,
          unset_labels,
          inherit_labels, metadata_file, check, call, list_rules, signature_policy, registries_d, sbom, sbom_output,
          provenance, source_date_epoch, rewrite_timestamp, timestamp, compat_volumes, isolation, ssh,
          build_contexts, compression_format, compression_level, manifest,
          **run_flags) -> None:
    """Build an image from a Dockerfile and a context: a directory, '-' (a tar or a Dockerfile
    on stdin), or a URL (a git repository URL[#REF[:DIR]], a tar or a Dockerfile)."""
    if list_rules:
        from rootless_build.cli.check_cmd import list_rules as print_rules

        return print_rules()
    from rootless_build.cli.build_inputs import BuildInputs

    if squash and squash_all:
        raise UsageError("--squash and --squash-all cannot be used together")
    if progress in ("quiet", "rawjson"):    # (read by this build and the builds it starts)
        os.environ["ROOTLESS_BUILD_PROGRESS"] = progress
    if timestamp is not None and source_date_epoch is not None:
        raise UsageError("--timestamp and --source-date-epoch cannot be used together")
    lint_format = image_format if image_format in ("text", "json") else "text"
    if image_format in ("text", "json") and not (check or (call or "").startswith("check")):
        raise UsageError(f"--format {image_format} is for --check; images are oci or docker")
    image_format = image_format if image_format in ("oci", "docker") else "oci"
    result = {"format": image_format, "jobs": jobs, "allow": list(allow),
              "squash": "all" if squash_all else ("new" if squash else None),
              "outputs": list(outputs), "annotations": _annotations(annotations), "unset_env": list(unset_env),
              "unset_labels": list(unset_labels), "inherit_labels": inherit_labels, "metadata_file": metadata_file,
              "signature_policy": signature_policy, "registries_d": registries_d, "sbom": sbom or bool(sbom_output),
              "sbom_output": os.path.abspath(sbom_output) if sbom_output else None,
              "provenance": _provenance_mode(provenance),
              "source_date_epoch": source_date_epoch, "timestamp": timestamp,
              "rewrite_timestamp": rewrite_timestamp, "compat_volumes": compat_volumes,
              "isolation": common.isolation(ctx, isolation),
              "output_compression": _output_compression(compression_format, compression_level),
              "manifest": manifest}
    with BuildInputs() as inputs:  # what they received or started goes when the command ends
        context, dockerfile = inputs.main_context(context, dockerfile)
        fields = inputs.fields(secrets, ssh, build_contexts, **run_flags)
        _build(ctx, context, tags, dockerfile, build_args, target, no_cache, pull, labels, iidfile, quiet,
               platform, network, cache_from, cache_to, tls_verify, cert_dir, authfile, creds, check, call,
               lint_format, {**fields, **result})


def _build(ctx, context, tags, dockerfile, build_args, target, no_cache, pull, labels, iidfile, quiet,
           platform, network, cache_from, cache_to, tls_verify, cert_dir, authfile, creds, check, call,
           lint_format, fields) -> None:
    from rootless_build.builder.dockerfilesource import has_run
    from rootless_build.builder.options import BuildOptions
    from rootless_build.cli.build_inputs import pairs as _pairs

    wanted = _outputs(tuple(fields["outputs"]), tags, fields["output_compression"])
    if any(output.dest == "-" for output in wanted) and not os.environ.get(RESULT_ENV):
        _take_stdout_for_tar()

    options = BuildOptions(
        context_dir=context, dockerfile=dockerfile,
        dockerfile_text=click.get_text_stream("stdin").read() if dockerfile == "-" else None,
        tags=list(tags), build_args=_pairs(build_args, "--build-arg", from_env=True), target=target,
        no_cache=no_cache, pull=pull, labels=_pairs(labels, "--label", from_env=False), iidfile=iidfile,
        quiet=quiet, platform=platform, network=network,
        storage_driver=common.storage_driver(ctx),
        cache_from=list(cache_from), cache_to=list(cache_to), tls_verify=tls_verify, cert_dir=cert_dir,
        authfile=authfile, creds=creds, **fields)
    check, fmt = _call(call, check, lint_format)
    from rootless_build.builder.platform import parse_platforms

    targets = parse_platforms(platform)
    if check:
        from rootless_build.cli.check_cmd import run_check

        if len(targets) > 1:
            options.platform = targets[0]
        sys.exit(run_check(common.open_store(ctx), options, fmt))
    several = len(targets) > 1 or options.manifest is not None
    if several:
        from rootless_build.builder.multiplatform import check_list_outputs

        check_list_outputs(wanted, list(tags), options.manifest)
        list_outputs, wanted = wanted, []  # written by the process that builds (no stdout tar)
    progress_mode = ctx.params.get("progress") or "auto"
    if _tty_view(progress_mode, quiet):   # this process draws; a child of it builds
        from rootless_build.cli.ttyprogress import fork_build

        fork_build(forced=progress_mode == "tty")
    # A RUN needs the user namespace only when it executes: a cached build stays out of it
    # (one Python start-up instead of two); --no-cache executes every RUN, so enter at once.
    if no_cache and has_run(options) and _outside_userns() and not _enter_here(ctx, options):
        sys.exit(_finish_in_userns(ctx, options, wanted))
    from rootless_build.builder.builder import build as run_build
    from rootless_build.builder.handlers.run import NeedsUserNamespace
    from rootless_build.builder.progress import SHOWN_STEPS_ENV, Progress

    signal.signal(signal.SIGTERM, _terminated)
    progress = Progress(quiet)
    store = common.open_store(ctx)
    try:
        if several:
            from rootless_build.builder.multiplatform import build_platforms

            found = build_platforms(store, options, targets, progress, run_build)
            if list_outputs:
                from rootless_build.builder.multiplatform import export_list

                export_list(store, found, list_outputs, options.registry_options())
            return
        image = run_build(store, options, progress)
    except NeedsUserNamespace:      # the first RUN that misses the cache: go on from inside
        os.environ[SHOWN_STEPS_ENV] = str(progress.current_step)
        sys.exit(_finish_in_userns(ctx, options, wanted))
    result_file = os.environ.get(RESULT_ENV)
    if result_file:                 # the re-executed build: the outer process exports
        Path(result_file).write_text(image.manifest_digest)
    elif wanted:
        _export(store, image, wanted, options)


# The re-executed build (inside the user namespace) names its image here, so that the
# outer process, which holds the real stdout, writes the outputs.
RESULT_ENV = "ROOTLESS_BUILD_RESULT_FILE"


def _finish_in_userns(ctx: click.Context, options: Any, wanted: list[Any]) -> int:
    if not wanted:
        return _in_userns(options)
    import tempfile

    with tempfile.NamedTemporaryFile("r", prefix="rootless-build-result-") as result:
        os.environ[RESULT_ENV] = result.name
        status = _in_userns(options)
        del os.environ[RESULT_ENV]
        digest = result.read().strip()
    if status == 0 and digest:
        store = common.open_store(ctx)
        _export(store, store.load_image(digest, tuple(store.tags_by_digest().get(digest, ()))), wanted, options)
    return status


def _export(store: Any, image: Any, wanted: list[Any], options: Any) -> None:
    from rootless_build.builder.outputs import export

    export(store, image, wanted, tags=list(image.tags), registry_options=options.registry_options(),
           stdout=_TAR_STDOUT[0] if _TAR_STDOUT else None)


# `-o -`: the tar owns the real stdout; everything else printed goes to stderr.
_TAR_STDOUT: list[BinaryIO] = []


def _tty_view(progress: str, quiet: bool) -> bool:
    """--progress tty, or auto with stdout on a terminal; not with -q, nor when stdout is a tar
    (-o -), nor in a build started by one that draws already (its events go to that one)."""
    if quiet or _TAR_STDOUT or os.environ.get("ROOTLESS_BUILD_PROGRESS") or os.environ.get(RESULT_ENV):
        return False
    return progress == "tty" or (progress == "auto" and sys.stdout.isatty() and os.environ.get("TERM") != "dumb")


def _take_stdout_for_tar() -> None:
    sys.stdout.flush()
    _TAR_STDOUT.append(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)


def _annotations(values: tuple[str, ...]) -> dict[str, str]:
    """buildah's KEY=VALUE, or BuildKit's `manifest:KEY=VALUE` (the manifest is all we annotate)."""
    plain = []
    for value in values:
        where, colon, rest = value.partition(":")
        if colon and "=" not in where:
            if where != "manifest":
                raise UsageError(f"invalid --annotation {value!r}: only manifest annotations are supported")
            value = rest
        plain.append(value)
    from rootless_build.cli.build_inputs import pairs

    return pairs(tuple(plain), "--annotation", from_env=False)


def _outputs(values: tuple[str, ...], tags: tuple[str, ...], compression: str | None) -> list[Any]:
    if not values:
        return []
    from rootless_build.builder.outputs import check_outputs, parse_output, with_compression

    outputs = with_compression([parse_output(value) for value in values], compression)
    check_outputs(outputs, list(tags))
    return outputs


def _output_compression(kind: str | None, level: int | None) -> str | None:
    if kind is None and level is None:
        return None
    from rootless_build.store.variants import compression_name

    return compression_name(kind or "gzip", level)


def _call(call: str | None, check: bool, fmt: str) -> tuple[bool, str]:
    """`--call check[,format=json]` (buildx) as --check [--format json]; `--call build` builds."""
    if call is None:
        return check, fmt
    method, *params = call.split(",")
    if method not in ("build", "check"):
        raise UsageError(f"--call {call!r}: only build and check are supported")
    for param in params:
        key, _, value = param.partition("=")
        if key != "format" or value not in ("text", "json"):
            raise UsageError(f"--call {call!r}: expected format=text or format=json")
        fmt = value
    return check or method == "check", fmt


def _provenance_mode(text: str | None) -> str | None:
    """--provenance mode=min|max (BuildKit's spelling; a bare min/max or true is accepted)."""
    if text is None:
        return None
    value = text.strip().lower()
    value = {"true": "min", "1": "min"}.get(value, value).removeprefix("mode=")
    if value in ("false", "0"):
        return None
    if value not in ("min", "max"):
        raise UsageError(f"invalid --provenance {text!r}: expected mode=min or mode=max")
    return value


def _outside_userns() -> bool:
    from rootless_build.sandbox.userns import in_userns

    return os.getuid() != 0 and not in_userns()


def _enter_here(ctx: click.Context, options) -> bool:
    """Enter the user namespace the probed plan asks for (its notes are said by the RUN)."""
    from rootless_build.sandbox import isolation

    store = common.open_store(ctx)
    plan = isolation.choose(store.tmp_dir, options.isolation, options.storage_driver, shared_cache=store.cache_dir)
    return isolation.enter(plan, warn=None)


def _in_userns(options) -> int:
    """Run this very command again as root of the user namespace (RUN steps need it), with
    the mapping the probe chose (its plan is in the environment by now); a Dockerfile read
    from stdin is handed over as the new process's stdin."""
    from rootless_build.sandbox.isolation import reexec

    if options.dockerfile != "-":
        return reexec(sys.argv[1:])
    import tempfile

    with tempfile.TemporaryFile("w+") as text:
        text.write(options.dockerfile_text or "")
        text.flush()
        text.seek(0)
        return reexec(sys.argv[1:], stdin=text)


def _terminated(signum, _frame) -> None:
    """SIGTERM: unwind (temp dirs removed, exit 143) instead of dying where we stand."""
    from rootless_build.sandbox.spec import StepInterrupted

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise StepInterrupted(signum)
