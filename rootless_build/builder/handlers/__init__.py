"""The dispatch table: one handler per Dockerfile instruction (FROM is the builder's).

A handler's module is imported when a Dockerfile first uses its instruction: a cached
build of FROM + RUN never loads what COPY or a RUN that executes need (start-up time).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# keyword -> (module under rootless_build.builder.handlers, function)
_TABLE: dict[str, tuple[str, str]] = {
    "ADD": ("copy", "handle_add"),
    "ARG": ("metadata", "handle_arg"),
    "CMD": ("metadata", "handle_cmd"),
    "COPY": ("copy", "handle_copy"),
    "ENTRYPOINT": ("metadata", "handle_entrypoint"),
    "ENV": ("metadata", "handle_env"),
    "EXPOSE": ("metadata", "handle_expose"),
    "HEALTHCHECK": ("metadata", "handle_healthcheck"),
    "LABEL": ("metadata", "handle_label"),
    "MAINTAINER": ("metadata", "handle_maintainer"),
    "ONBUILD": ("metadata", "handle_onbuild"),
    "RUN": ("run", "handle_run"),
    "SHELL": ("metadata", "handle_shell"),
    "STOPSIGNAL": ("metadata", "handle_stopsignal"),
    "USER": ("metadata", "handle_user"),
    "VOLUME": ("volume", "handle_volume"),
    "WORKDIR": ("workdir", "handle_workdir"),
}


def handler_for(keyword: str) -> Callable | None:
    """The handler of an instruction keyword, or None when we have none."""
    spec = _TABLE.get(keyword)
    if spec is None:
        return None
    module = importlib.import_module(f"rootless_build.builder.handlers.{spec[0]}")
    return getattr(module, spec[1])
