"""Entry point: a click group whose commands are imported only when invoked (fast start-up),
and the one place that turns errors into exit codes and one-line messages."""

from __future__ import annotations

import gc
import importlib
import os
import sys

# Start-up makes ~25k objects that live as long as the command (functions, classes, click's
# options): at the default threshold (700) the collector runs ~35 times over them, ~3 ms of
# a 60 ms cached build. Garbage cycles are still collected, after 100k net allocations.
gc.set_threshold(100_000, 20, 100)

import click  # noqa: E402 (after the collector is set)

from rootless_build import __version__
from rootless_build.errors import RootlessBuildError

# name -> (module under rootless_build.cli, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "build": ("build_cmd", "build", "Build an image from a Dockerfile"),
    "images": ("image_cmds", "images", "List images"),
    "tag": ("image_cmds", "tag", "Add a tag to an image"),
    "rmi": ("image_cmds", "rmi", "Remove images"),
    "prune": ("image_cmds", "prune", "Remove dangling images and unreferenced data"),
    "inspect": ("inspect_cmd", "inspect", "Show an image's or a container's details as JSON"),
    "history": ("image_cmds", "history", "Show the history of an image"),
    "fsck": ("image_cmds", "fsck", "Check every blob and reference in the store"),
    "save": ("archive_cmds", "save", "Save images to an archive or OCI directory"),
    "load": ("archive_cmds", "load", "Load images from an archive"),
    "import": ("archive_cmds", "import_", "Create an image from a rootfs tarball"),
    "pull": ("registry_cmds", "pull", "Pull an image from a registry"),
    "push": ("registry_cmds", "push", "Push an image to a registry"),
    "login": ("registry_cmds", "login", "Log in to a registry"),
    "logout": ("registry_cmds", "logout", "Log out of a registry"),
    "search": ("registry_cmds", "search", "Search a registry's catalog"),
    "generate-key": ("sign_cmds", "generate_key", "Create a sigstore signing key pair"),
    "verify": ("sign_cmds", "verify", "Check a registry image's signature with a public key"),
    "sbom": ("supply_cmds", "sbom", "Show the packages installed in an image (SPDX or CycloneDX)"),
    "unshare": ("sandbox_cmds", "unshare", "Run a command in the rootless user namespace"),
    "info": ("sandbox_cmds", "info", "Show what this machine offers for rootless builds"),
    "run": ("container_cmds", "run", "Run a command in a new container"),
    "ps": ("container_cmds", "ps", "List containers"),
    "start": ("container_cmds", "start", "Start stopped containers"),
    "stop": ("container_cmds", "stop", "Stop running containers"),
    "kill": ("container_cmds", "kill", "Kill running containers"),
    "wait": ("container_cmds", "wait", "Wait for containers to exit"),
    "attach": ("container_cmds", "attach", "Attach to a running container"),
    "logs": ("container_cmds", "logs", "Show a container's output"),
    "exec": ("container_cmds", "exec_", "Run a command in a running container"),
    "rm": ("container_cmds", "rm", "Remove containers"),
    "commit": ("container_cmds", "commit", "Create an image from a container's changes"),
    "create": ("container_admin_cmds", "create", "Create a new container (started by start)"),
    "restart": ("container_admin_cmds", "restart", "Restart containers"),
    "rename": ("container_admin_cmds", "rename", "Rename a container"),
    "port": ("container_admin_cmds", "port", "List a container's published ports"),
    "top": ("container_admin_cmds", "top", "Show the processes of a container"),
    "cp": ("container_fs_cmds", "cp", "Copy files between a container and the host"),
    "diff": ("container_fs_cmds", "diff", "Show the changes to a container's filesystem"),
    "export": ("container_fs_cmds", "export", "Export a container's filesystem as a tar"),
    "manifest": ("manifest_cmds", "manifest", "Create and push manifest lists (multi-platform images)"),
    "volume": ("volume_cmds", "volume", "Manage volumes (create, ls, inspect, rm, prune)"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, spec in COMMANDS.items() if _available(spec[0]))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = COMMANDS.get(name)
        if spec is None or not _available(spec[0]):
            return None
        module = importlib.import_module(f"rootless_build.cli.{spec[0]}")
        return getattr(module, spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if not rows:
            return
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _available(module: str) -> bool:
    return os.path.exists(os.path.join(os.path.dirname(__file__), f"{module}.py"))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="ROOTLESS_BUILD_ROOT", type=click.Path(file_okay=False),
              help="Store directory (default $XDG_DATA_HOME/rootless-build).")
@click.option("--storage-driver", envvar="ROOTLESS_BUILD_STORAGE_DRIVER",
              type=click.Choice(["overlay", "fuse-overlayfs", "vfs"]), default=None,
              help="How RUN steps and containers get a writable root (default: detected).")
@click.option("--isolation", envvar="ROOTLESS_BUILD_ISOLATION",
              type=click.Choice(["oci", "rootless", "chroot"]), default=None,
              help="How RUN steps and containers are isolated (default: the best this place allows).")
@click.version_option(__version__, prog_name="rootless-build")
@click.pass_context
def cli(ctx: click.Context, root: str | None, storage_driver: str | None, isolation: str | None) -> None:
    """Rootless, daemonless container image builder and manager."""
    ctx.obj = {"root": root, "storage_driver": storage_driver, "isolation": isolation}


def main(argv: list[str] | None = None) -> None:
    """The program: runs the command, then leaves with its exit status."""
    try:
        _run(argv)
        code = 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    _leave(code)


def _leave(code: int) -> None:
    """Exit without the interpreter's teardown of every loaded module (~20 ms of each
    command here): what we wrote is flushed here or was closed by its `with` block, and
    no thread or atexit handler of ours outlives the command."""
    scratch = sys.modules.get("rootless_build.store.scratch")
    if scratch is not None:  # this command's temp dir in the store, if it made one
        scratch.release()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or 141
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code & 0xFF)


def _run(argv: list[str] | None) -> None:
    try:
        # standalone_mode=False returns ctx.exit()'s code instead of exiting with it.
        code = cli.main(args=argv, prog_name="rootless-build", standalone_mode=False)
    except RootlessBuildError as e:
        _fail(str(e), e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.ClickException as e:
        _fail(e.format_message(), 125)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(141)
    except OSError as e:
        if os.environ.get("ROOTLESS_BUILD_DEBUG"):
            raise
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        _fail(f"{e.strerror or e}{where}", 1)
    except Exception as e:  # a bug: still one line for the user, the trace on request
        if os.environ.get("ROOTLESS_BUILD_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (set ROOTLESS_BUILD_DEBUG=1 for details)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    sys.stdout.flush()
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(code)
