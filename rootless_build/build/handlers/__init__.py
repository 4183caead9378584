"""The dispatch table: one handler per Dockerfile instruction (FROM is the builder's)."""

from __future__ import annotations

from rootless_build.build.handlers.copy import handle_add, handle_copy
from rootless_build.build.handlers.metadata import (
    handle_arg,
    handle_cmd,
    handle_entrypoint,
    handle_env,
    handle_expose,
    handle_healthcheck,
    handle_label,
    handle_maintainer,
    handle_onbuild,
    handle_shell,
    handle_stopsignal,
    handle_user,
    handle_volume,
    handle_workdir,
)
from rootless_build.build.handlers.run import handle_run

HANDLERS = {
    "ADD": handle_add,
    "ARG": handle_arg,
    "CMD": handle_cmd,
    "COPY": handle_copy,
    "ENTRYPOINT": handle_entrypoint,
    "ENV": handle_env,
    "EXPOSE": handle_expose,
    "HEALTHCHECK": handle_healthcheck,
    "LABEL": handle_label,
    "MAINTAINER": handle_maintainer,
    "ONBUILD": handle_onbuild,
    "RUN": handle_run,
    "SHELL": handle_shell,
    "STOPSIGNAL": handle_stopsignal,
    "USER": handle_user,
    "VOLUME": handle_volume,
    "WORKDIR": handle_workdir,
}
