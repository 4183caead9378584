"""Instructions that only change the image config: one small handler each.

Each computes its inputs (the expanded instruction), takes the cache when it can, else
edits the config and commits an empty-layer history entry (`/bin/sh -c #(nop) ...`).
"""

from __future__ import annotations

from rootless_build.build import imageconfig as ic
from rootless_build.build.history import nop
from rootless_build.dockerfile.ports import exposed_ports


def _metadata_step(step, instr, change, *, author: str | None = None, inputs=None) -> None:
    if step.use_cache(step.describe(instr) if inputs is None else inputs):
        return
    change(ic.container(step.state.config))
    step.commit(nop(step.instruction.original), empty_layer=True, author=author)


def handle_env(step) -> None:
    instr = step.expanded()

    def change(_config):
        for pair in instr.pairs:
            ic.set_env(step.state.config, pair.key, pair.value)

    _metadata_step(step, instr, change)


def handle_label(step) -> None:
    instr = step.expanded()

    def change(config):
        labels = dict(config.get("Labels") or {})
        labels.update({pair.key: pair.value for pair in instr.pairs})
        config["Labels"] = labels

    _metadata_step(step, instr, change)


def handle_user(step) -> None:
    instr = step.expanded()
    _metadata_step(step, instr, lambda config: config.__setitem__("User", instr.user))


def handle_expose(step) -> None:
    instr = step.expanded()

    def change(config):
        ports = dict(config.get("ExposedPorts") or {})
        for key in exposed_ports(instr.ports):
            ports[key] = {}
        config["ExposedPorts"] = ports

    _metadata_step(step, instr, change)


def handle_stopsignal(step) -> None:
    instr = step.expanded()
    _metadata_step(step, instr, lambda config: config.__setitem__("StopSignal", instr.signal))


def _command(step, instr) -> list[str]:
    if instr.shell_form:
        return [*ic.shell(step.state.config), *instr.args]
    return list(instr.args)


def handle_cmd(step) -> None:
    instr = step.instruction
    command = _command(step, instr)
    step.state.cmd_set = True

    def change(config):
        config["Cmd"] = command
        config["ArgsEscaped"] = True  # as BuildKit writes it for every CMD

    _metadata_step(step, instr, change)


def handle_entrypoint(step) -> None:
    instr = step.instruction
    command = _command(step, instr)

    def change(config):
        config["Entrypoint"] = command
        if not step.state.cmd_set:
            config.pop("Cmd", None)  # docker: an ENTRYPOINT drops the CMD inherited from the base

    inputs = {"entrypoint": step.describe(instr), "cmd_set": step.state.cmd_set}
    _metadata_step(step, instr, change, inputs=inputs)


def handle_shell(step) -> None:
    instr = step.instruction
    _metadata_step(step, instr, lambda config: config.__setitem__("Shell", list(instr.args)))


def handle_healthcheck(step) -> None:
    instr = step.instruction
    health: dict = {"Test": list(instr.test)}
    for key, value in (("Interval", instr.interval), ("Timeout", instr.timeout),
                       ("StartPeriod", instr.start_period), ("StartInterval", instr.start_interval),
                       ("Retries", instr.retries)):
        if value:
            health[key] = value
    _metadata_step(step, instr, lambda config: config.__setitem__("Healthcheck", health))


def handle_onbuild(step) -> None:
    instr = step.instruction

    def change(config):
        config["OnBuild"] = [*(config.get("OnBuild") or []), instr.expression]

    _metadata_step(step, instr, change, inputs={"onbuild": instr.expression, "original": instr.original})


def handle_maintainer(step) -> None:
    instr = step.instruction

    def change(_config):
        step.state.config["author"] = instr.name

    _metadata_step(step, instr, change, author=instr.name)


def handle_arg(step) -> None:
    instr = step.expanded()
    for definition in instr.args:
        step.state.args.declare(definition.name, definition.default)
    _metadata_step(step, instr, lambda _config: None)
