"""generate-key, verify: sigstore keys and signature checks (thin commands over sign/)."""

from __future__ import annotations

import os

import click

from rootless_build.errors import UsageError


@click.command("generate-key")
@click.option("--output-prefix", default="cosign", show_default=True,
              help="Write PREFIX.private (encrypted) and PREFIX.pub, as skopeo generate-sigstore-key.")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Read the passphrase from this file (default: prompt, or $COSIGN_PASSWORD).")
def generate_key(output_prefix, passphrase_file):
    """Create a sigstore (cosign-compatible) ECDSA P-256 key pair."""
    from rootless_build.sign import sigstore_keys

    private_path, public_path = f"{output_prefix}.private", f"{output_prefix}.pub"
    for path in (private_path, public_path):
        if os.path.exists(path):
            raise UsageError(f"{path} already exists; refusing to overwrite a key")
    if passphrase_file or "COSIGN_PASSWORD" in os.environ:
        passphrase = sigstore_keys.read_passphrase(passphrase_file)
    else:
        passphrase = click.prompt("Passphrase for the private key", hide_input=True,
                                  confirmation_prompt=True).encode()
    private_pem, public_pem = sigstore_keys.generate(passphrase)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    with open(public_path, "wb") as f:
        f.write(public_pem)
    click.echo(f"Key written to {private_path} and {public_path}")


@click.command()
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A sigstore public key (PEM) or a GPG public keyring.")
@click.option("--registries.d", "registries_d", type=click.Path(file_okay=False),
              help="Where GPG signature storage is configured.")
@click.option("--tls-verify", type=click.BOOL, is_flag=False, flag_value=True, default=None,
              help="Require HTTPS and verify certificates (false: allow plain HTTP).")
@click.option("--authfile", type=click.Path(dir_okay=False), help="Auth file to use.")
@click.argument("image")
def verify(key_path, registries_d, tls_verify, authfile, image):
    """Check that a registry IMAGE is signed by KEY (exit 1 and the reason if not)."""
    from rootless_build.registry.keycheck import verify_with_key
    from rootless_build.registry.options import RegistryOptions

    image = image[len("docker://"):] if image.startswith("docker://") else image
    options = RegistryOptions(tls_verify, None, authfile, None, None, registries_d)
    identity, digest = verify_with_key(image, key_path, options)
    click.echo(f"Verified OK: {identity} ({digest}) is signed by {key_path}")
