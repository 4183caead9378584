"""run, ps, start, stop, kill, wait, attach, logs, exec, rm, commit: thin commands over
containers/. Exit statuses follow docker: `run` and `exec` give the command's, 125 for
our own errors, 126/127 when the command cannot be executed / is not found."""

from __future__ import annotations

import json
import os
import signal
import sys

import click

from rootless_build.cli.common import isolation, open_store, print_table, storage_driver
from rootless_build.cli.run_flags import create_from_flags, run_flags
from rootless_build.errors import ContainerError, RootlessBuildError, UsageError

_POSITIONAL_TAIL = {"allow_interspersed_args": False}


def _catalog(ctx):
    from rootless_build.containers.catalog import Catalog

    store = open_store(ctx)
    return store, Catalog(store.containers_dir)


def _exit(code: int) -> None:
    """Exit now with a container's status. (click's ctx.exit would be swallowed by the
    non-standalone main; skipping the interpreter's teardown also saves ~50 ms a run.)"""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _warn_about_id_mapping() -> None:
    """Without subordinate ids only the user is mapped (as root): say once what that limits."""
    from rootless_build.sandbox.idmap import plan_mapping

    warning = plan_mapping().warning
    if warning:
        click.echo(f"rootless-build: warning: {warning}", err=True)


def _as_125(e: RootlessBuildError) -> RootlessBuildError:
    """Our own failures in run/exec exit 125, so they never pass for the command's status;
    a command that cannot be executed keeps docker's 126/127."""
    if not getattr(e, "command_status", False):
        e.exit_code = 125
    return e


def _attach_until_exit(catalog, container, *, stdin: bool, tty: bool, proxy_signals: bool,
                       detach_keys: str = "") -> None:
    """Attach to a started container; exit with its status (0 when detached)."""
    from rootless_build.containers import detachkeys, lifecycle
    from rootless_build.containers.attach import DETACHED, attach
    from rootless_build.containers.status import refresh

    previous = {}
    if proxy_signals:       # docker's --sig-proxy: ctrl-c on a non-tty run reaches the command
        def forward(signum, _frame):
            try:
                lifecycle.kill(catalog, container, signum)
            except RootlessBuildError:
                pass
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        code = attach(catalog.socket_path(container.id), stdin=stdin, tty=tty,
                      detach_keys=detachkeys.parse(detach_keys or container.config.detach_keys))
    except (FileNotFoundError, ConnectionRefusedError):
        code = None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == DETACHED:
        _exit(0)
    if code is None:            # the monitor went away without a word: what does the record say?
        try:
            container = refresh(catalog, catalog.load(container.id))
        except ContainerError:
            raise ContainerError(f"container {container.name} ended; its exit status is unknown") from None
        code = lifecycle.wait(catalog, container)
    _exit(code)


@click.command(context_settings=_POSITIONAL_TAIL)
@run_flags
@click.option("-d", "--detach", is_flag=True, help="Run in the background; print the container ID.")
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx, detach, image, command, **flags):
    """Run a command in a new container."""
    from rootless_build.containers import lifecycle

    try:
        store, catalog, container = create_from_flags(ctx, flags, image, command, detach=detach)
        _warn_about_id_mapping()
        try:
            container = lifecycle.start(store, catalog, container, expect_attach=not detach,
                                        prefer_driver=storage_driver(ctx), prefer_isolation=isolation(ctx))
        except RootlessBuildError:
            if flags["auto_remove"]:
                lifecycle.remove(catalog, container, force=True, with_volumes=True)
            raise
    except RootlessBuildError as e:
        raise _as_125(e) from None
    if detach:
        click.echo(container.id)
        return
    _attach_until_exit(catalog, container, stdin=flags["interactive"], tty=flags["tty"],
                       proxy_signals=not flags["tty"])


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default: running only).")
@click.option("-q", "--quiet", is_flag=True, help="Only show container IDs.")
@click.option("--format", "fmt", default="table", help="table, json, a Go template or 'table TEMPLATE'.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="KEY=VALUE: status, name, ancestor, exited, label, id, before, since, volume.")
@click.option("-l", "--latest", is_flag=True, help="Show only the latest created container.")
@click.option("-n", "--last", type=int, default=-1, help="Show the n last created containers.")
@click.pass_context
def ps(ctx, all_, quiet, fmt, no_trunc, filters, latest, last):
    """List containers."""
    from rootless_build.containers import filtering, listing
    from rootless_build.containers.record import RUNNING
    from rootless_build.containers.status import refresh
    from rootless_build.store.filters import Filters

    wanted = Filters.parse(filters, filtering.PS_KEYS)
    if fmt not in ("table", "json") and not quiet:
        from rootless_build.cli.gotemplate import compile_template

        compile_template(fmt)       # before listing: a broken one fails with nothing to list
    store, catalog = _catalog(ctx)
    keep = filtering.matcher(store, catalog, wanted)
    all_ = all_ or latest or last >= 0 or filtering.shows_all(wanted)
    containers = [refresh(catalog, c) for c in catalog.all()]
    containers = [c for c in containers if (all_ or c.state.status == RUNNING) and keep(c)]
    containers.sort(key=lambda c: c.created, reverse=True)
    if latest or last >= 0:
        containers = containers[:1 if latest else last]
    if quiet:
        for c in containers:
            click.echo(c.id if no_trunc else c.short_id)
    elif fmt == "json":
        click.echo(json.dumps([listing.podman_json(c) for c in containers], indent=4))
    elif fmt == "table":
        rows = [listing.fields(c, no_trunc) for c in containers]
        print_table([[r[key] for _, key in listing.TABLE] for r in rows], [h for h, _ in listing.TABLE])
    else:
        from rootless_build.cli.image_cmds import print_formatted

        print_formatted(fmt, [listing.fields(c, no_trunc) for c in containers], listing.HEADERS)


@click.command()
@click.option("-a", "--attach", "attach_", is_flag=True, help="Attach to the container's output.")
@click.option("-i", "--interactive", is_flag=True, help="Attach the container's stdin.")
@click.option("--detach-keys", default="", help="Keys that detach (default: the container's, ctrl-p,ctrl-q).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def start(ctx, attach_, interactive, detach_keys, containers):
    """Start stopped containers."""
    from rootless_build.containers import detachkeys, lifecycle

    detachkeys.parse(detach_keys)

    store, catalog = _catalog(ctx)
    if (attach_ or interactive) and len(containers) > 1:
        raise UsageError("you cannot start and attach multiple containers at once")
    failed = False
    _warn_about_id_mapping()
    for ref in containers:
        try:
            container = lifecycle.start(store, catalog, catalog.lookup(ref), expect_attach=attach_ or interactive,
                                        prefer_driver=storage_driver(ctx), prefer_isolation=isolation(ctx))
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
            continue
        if attach_ or interactive:
            _attach_until_exit(catalog, container, stdin=interactive, tty=container.config.tty,
                               proxy_signals=not container.config.tty, detach_keys=detach_keys)
        click.echo(ref)
    if failed:
        _exit(1)


def _each(ctx, refs, action) -> None:
    """Apply action(catalog, container) to each; report failures one line each, exit 1."""
    _, catalog = _catalog(ctx)
    failed = False
    for ref in refs:
        try:
            action(catalog, catalog.lookup(ref))
        except RootlessBuildError as e:
            click.echo(f"Error: {e}", err=True)
            failed = True
            continue
        click.echo(ref)
    if failed:
        _exit(1)


@click.command()
@click.option("-t", "--time", "--timeout", "timeout", type=int, default=None,
              help="Seconds to wait before SIGKILL (default: the container's, 10).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stop(ctx, timeout, containers):
    """Stop running containers (stop signal, then SIGKILL)."""
    from rootless_build.containers import lifecycle

    _each(ctx, containers, lambda catalog, c: lifecycle.stop(catalog, c, timeout))


@click.command()
@click.option("-s", "--signal", "sig", default="KILL", show_default=True, help="Signal to send.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def kill(ctx, sig, containers):
    """Kill running containers with a signal."""
    from rootless_build.containers import lifecycle, procs

    try:
        number = procs.parse_signal(sig)
    except ValueError:
        raise UsageError(f"invalid signal: {sig}") from None
    _each(ctx, containers, lambda catalog, c: lifecycle.kill(catalog, c, number))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait(ctx, containers):
    """Block until containers stop; print their exit statuses."""
    from rootless_build.containers import lifecycle

    _, catalog = _catalog(ctx)
    for ref in containers:
        click.echo(lifecycle.wait(catalog, catalog.lookup(ref)))


@click.command()
@click.option("--no-stdin", is_flag=True, help="Do not attach stdin.")
@click.option("--detach-keys", default="", help="Keys that detach (default: the container's, ctrl-p,ctrl-q).")
@click.argument("container")
@click.pass_context
def attach(ctx, no_stdin, detach_keys, container):
    """Attach to a running container (detach with ctrl-p ctrl-q)."""
    from rootless_build.containers.status import is_running, refresh

    _, catalog = _catalog(ctx)
    c = refresh(catalog, catalog.lookup(container))
    if not is_running(c):
        raise ContainerError("you cannot attach to a stopped container, start it first")
    stdin = not no_stdin and c.config.open_stdin
    from rootless_build.containers.detachkeys import parse

    parse(detach_keys)
    _attach_until_exit(catalog, c, stdin=stdin, tty=c.config.tty, proxy_signals=False, detach_keys=detach_keys)


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("-n", "--tail", default="all", help="Only the last N lines (default all).")
@click.argument("container")
@click.pass_context
def logs(ctx, follow, timestamps, tail, container):
    """Show a container's output."""
    from rootless_build.containers.logs import print_logs

    _, catalog = _catalog(ctx)
    if tail != "all" and not tail.isdigit():
        raise UsageError(f"--tail {tail}: a number of lines, or all")
    print_logs(catalog, catalog.lookup(container), follow=follow, timestamps=timestamps,
               tail=None if tail == "all" else int(tail))


@click.command("exec", context_settings=_POSITIONAL_TAIL)
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-terminal.")
@click.option("-e", "--env", multiple=True, help="Set an environment variable.")
@click.option("-u", "--user", help="User name or uid[:gid].")
@click.option("-w", "--workdir", help="Working directory.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx, interactive, tty, env, user, workdir, container, command):
    """Run a command in a running container."""
    from rootless_build.containers.execute import ExecOptions, run_exec
    from rootless_build.containers.status import is_running, refresh
    from rootless_build.sandbox.seccomp import user_cache_dir

    try:
        store, catalog = _catalog(ctx)
        c = refresh(catalog, catalog.lookup(container))
        if not is_running(c):
            raise ContainerError(f"container {c.name} is not running")
        if tty and interactive and not os.isatty(0):
            raise UsageError("the input device is not a TTY")
    except RootlessBuildError as e:
        raise _as_125(e) from None
    code, message = run_exec(c, ExecOptions(list(command), tty=tty, interactive=interactive, env=list(env),
                                            user=user, workdir=workdir), user_cache_dir())
    if message:
        sys.stdout.flush()
        click.echo(f"Error: {message}", err=True)
    _exit(code)


@click.command()
@click.option("-f", "--force", is_flag=True, help="Kill and remove running containers.")
@click.option("-v", "--volumes", is_flag=True, help="Remove the container's anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def rm(ctx, force, volumes, containers):
    """Remove containers."""
    from rootless_build.containers import lifecycle

    _each(ctx, containers, lambda catalog, c: lifecycle.remove(catalog, c, force=force, with_volumes=volumes))


@click.command()
@click.option("-c", "--change", "changes", multiple=True,
              help="A Dockerfile instruction for the image config (CMD, ENTRYPOINT, ENV, EXPOSE, "
                   "LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL, ONBUILD).")
@click.option("-m", "--message", default="", help="Commit message (history comment).")
@click.option("-a", "--author", default="", help='Author (e.g. "Name <mail>").')
@click.option("-p", "--pause", is_flag=True, hidden=True, help="Accepted for docker compatibility.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID.")
@click.argument("container")
@click.argument("image", required=False)
@click.pass_context
def commit(ctx, changes, message, author, pause, quiet, container, image):
    """Create an image from a container's changes."""
    from rootless_build.containers.commit import commit_container

    store, catalog = _catalog(ctx)
    committed = commit_container(store, catalog, catalog.lookup(container), image, changes=list(changes),
                                 message=message, author=author)
    click.echo(committed.id)
