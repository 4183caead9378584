"""pull, push, login, logout, search: thin commands over registry/."""

from __future__ import annotations

import re
import sys

import click

from rootless_build.cli.common import open_store, print_table
from rootless_build.errors import UsageError


def _tls_options(creds: bool = True):
    """--tls-verify, --cert-dir, --authfile (and --creds): podman's spelling."""

    def decorate(f):
        f = click.option("--authfile", type=click.Path(dir_okay=False),
                         help="Auth file to use (default $XDG_RUNTIME_DIR/containers/auth.json).")(f)
        f = click.option("--cert-dir", type=click.Path(file_okay=False),
                         help="Directory with the registry's CA (*.crt) and client (*.cert, *.key) files.")(f)
        f = click.option("--tls-verify", type=click.BOOL, is_flag=False, flag_value=True, default=None,
                         help="Require HTTPS and verify certificates (false: allow plain HTTP).")(f)
        if creds:
            f = click.option("--creds", metavar="USER[:PASSWORD]", help="Credentials for the registry.")(f)
        return f

    return decorate


def _options(tls_verify=None, cert_dir=None, authfile=None, creds=None, signature_policy=None, registries_d=None):
    from rootless_build.registry.options import RegistryOptions

    return RegistryOptions(tls_verify, cert_dir, authfile, RegistryOptions.parse_creds(creds),
                           signature_policy, registries_d)


def _registries_d_option(f):
    return click.option("--registries.d", "registries_d", type=click.Path(file_okay=False),
                        help="Where signature storage is configured (default ~/.config/containers/registries.d, "
                             "else /etc/containers/registries.d).")(f)


def _without_transport(text: str) -> str:
    """Accept podman's 'docker://NAME' spelling."""
    return text[len("docker://"):] if text.startswith("docker://") else text


@click.command()
@click.option("--platform", help="OS/ARCH[/VARIANT] to pick from a manifest list (default: this host's).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image's name.")
@click.option("--signature-policy", type=click.Path(dir_okay=False),
              help="Trust policy to apply (default ~/.config/containers/policy.json, "
                   "else /etc/containers/policy.json).")
@_registries_d_option
@_tls_options()
@click.argument("reference")
@click.pass_context
def pull(ctx, platform, quiet, signature_policy, registries_d, tls_verify, cert_dir, authfile, creds, reference):
    """Pull an image from a registry (by tag or @sha256:digest)."""
    from rootless_build.registry.progress import for_terminal
    from rootless_build.registry.pull import pull as pull_image

    store = open_store(ctx)
    progress = for_terminal(quiet)
    try:
        result = pull_image(store, _without_transport(reference), platform=platform, progress=progress,
                            options=_options(tls_verify, cert_dir, authfile, creds, signature_policy, registries_d))
    finally:
        progress.close()
    click.echo(str(result.name))


@click.command()
@click.option("--compression-format", "--compression", "compression",
              type=click.Choice(["gzip", "zstd", "zstd:chunked"]), default="gzip", show_default=True,
              help="How to compress layers stored uncompressed.")
@click.option("--compression-level", type=int, help="Compression level (gzip 0-9, zstd 1-22).")
@click.option("--chunk-size", metavar="SIZE", help="Upload blobs bigger than SIZE in chunks (e.g. 64MiB).")
@click.option("--digestfile", type=click.Path(dir_okay=False), help="Write the pushed manifest's digest here.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("--sign-by", metavar="FINGERPRINT", help="Sign with this GPG key (into the registries.d lookaside).")
@click.option("--sign-by-sigstore-private-key", "sigstore_key", type=click.Path(exists=True, dir_okay=False),
              help="Sign with this sigstore (cosign) private key (as a sigstore attachment).")
@click.option("--sign-passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Read the signing key's passphrase from this file.")
@_registries_d_option
@_tls_options()
@click.argument("image")
@click.argument("destination", required=False)
@click.pass_context
def push(ctx, compression, compression_level, chunk_size, digestfile, quiet, sign_by, sigstore_key,
         sign_passphrase_file, registries_d,
         tls_verify, cert_dir, authfile, creds, image, destination):
    """Push an image (or a manifest list, with its images) to a registry, under its own
    name or DESTINATION."""
    unlocking = None
    if sigstore_key:  # its scrypt (~0.1 s, the key format's design) runs beside the imports and the upload
        from rootless_build.sign.keyholder import unlock_in_background

        unlocking = unlock_in_background(sigstore_key, sign_passphrase_file)
    from rootless_build.registry.signatures import SignOptions

    sign = SignOptions(sigstore_key, sign_by, sign_passphrase_file, unlocking)
    push_to_registry(open_store(ctx), image, destination, compression, compression_level, chunk_size, digestfile,
                     quiet, _options(tls_verify, cert_dir, authfile, creds, registries_d=registries_d), sign=sign)


def push_to_registry(store, source: str, destination: str | None, compression: str, level: int | None,
                     chunk_size: str | None, digestfile: str | None, quiet: bool, options,
                     list_only: bool = False, sign=None) -> None:
    """push and `manifest push`: a stored manifest list goes with all its images."""
    from rootless_build.registry.progress import for_terminal
    from rootless_build.registry.push import push as push_image
    from rootless_build.registry.push import push_list
    from rootless_build.store.lists import find_list, get_list
    from rootless_build.store.variants import compression_name

    compression = compression_name(compression, level)
    manifest_list = get_list(store, source) if list_only else find_list(store, source)
    dest = _without_transport(destination) if destination else None
    progress = for_terminal(quiet)
    try:
        if manifest_list is not None:
            if sign:
                raise UsageError("signing a manifest list is not supported; push and sign its images one by one")
            result = push_list(store, manifest_list, dest or manifest_list.name or source, compression=compression,
                               chunk_size=parse_size(chunk_size), progress=progress, options=options)
        else:
            result = push_image(store, source, dest, compression=compression, chunk_size=parse_size(chunk_size),
                                progress=progress, options=options, sign=sign)
    finally:
        progress.close()
    if digestfile:
        with open(digestfile, "w") as f:
            f.write(result.digest)


@click.command()
@click.option("-u", "--username", help="Username.")
@click.option("-p", "--password", help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_tls_options(creds=False)
@click.argument("registry")
def login(username, password, password_stdin, tls_verify, cert_dir, authfile, registry):
    """Log in to a registry; credentials go where podman and skopeo read them."""
    from rootless_build.registry.login import login as do_login

    if password_stdin:
        if password:
            raise UsageError("--password and --password-stdin cannot be used together")
        password = sys.stdin.read().rstrip("\r\n")
    interactive = sys.stdin.isatty() and not password_stdin
    if not username:
        if not interactive:
            raise UsageError("a username is required (-u USER)")
        username = click.prompt("Username")
    if not password:
        if not interactive:
            raise UsageError("a password is required (--password-stdin)")
        password = click.prompt("Password", hide_input=True)
    do_login(registry, username, password, options=_options(tls_verify, cert_dir, authfile))
    click.echo("Login Succeeded!")


@click.command()
@click.option("-a", "--all", "everything", is_flag=True, help="Remove the credentials of every registry.")
@click.option("--authfile", type=click.Path(dir_okay=False), help="Auth file to edit.")
@click.argument("registry", required=False)
def logout(everything, authfile, registry):
    """Log out of a registry (forget its stored credentials)."""
    from rootless_build.registry.login import logout as do_logout

    click.echo(do_logout(registry, options=_options(authfile=authfile), everything=everything))


@click.command()
@click.option("--limit", type=click.IntRange(min=0), default=25, show_default=True,
              help="Show at most this many repositories (0: all).")
@_tls_options()
@click.argument("term")
def search(limit, tls_verify, cert_dir, authfile, creds, term):
    """Search a registry's catalog: REGISTRY/TERM, REGISTRY, or TERM in the search registries."""
    from rootless_build.registry.search import search as do_search

    hits = do_search(term, limit=limit, options=_options(tls_verify, cert_dir, authfile, creds))
    print_table([[hit.name, ", ".join(hit.tags)] for hit in hits], ["NAME", "TAGS"])


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str | None) -> int | None:
    """'64MiB', '64m', '1048576' -> bytes (binary units, as podman's size flags)."""
    if not text:
        return None
    m = _SIZE_RE.match(text)
    if not m:
        raise UsageError(f"invalid size {text!r} (e.g. 64MiB)")
    n = int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    if n <= 0:
        raise UsageError(f"invalid size {text!r}: must be positive")
    return n
