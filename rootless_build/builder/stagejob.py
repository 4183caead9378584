"""`python -m rootless_build.builder.stagejob STORE`: one stage of a build, in a child process
of the build that runs stages at once (build/prefetch.py). The build's options come as JSON
on stdin, `target` naming the stage; the result is left in the store and its step cache,
where the build finds it. Exit 0 when the stage was built; errors are one line."""

from __future__ import annotations

import json
import os
import signal
import sys


def main(argv: list[str]) -> int:
    from rootless_build.builder.builder import build
    from rootless_build.builder.handlers.run import NeedsUserNamespace
    from rootless_build.builder.options import BuildOptions
    from rootless_build.builder.prefetch import BASES_ENV, ERROR_ENV, PREFIX_ENV
    from rootless_build.builder.progress import Progress
    from rootless_build.errors import RootlessBuildError
    from rootless_build.sandbox.spec import StepInterrupted
    from rootless_build.store import Store

    def terminated(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise StepInterrupted(signum)

    signal.signal(signal.SIGTERM, terminated)
    fields = json.loads(sys.stdin.read())
    options = BuildOptions(**{**fields, "record_result": False})
    prefix = os.environ.get(PREFIX_ENV, "")
    try:
        store = Store.open(argv[0])
        # The bases the build resolved (and pulled) already: none is asked of a registry again.
        for key, digest in json.loads(os.environ.get(BASES_ENV) or "{}").items():
            options.found_images[key] = store.load_image(digest)
        progress = Progress(options.quiet)
        build(store, options, progress)
        progress.done()
    except NeedsUserNamespace:
        return 1        # no namespace in place here: the build makes this stage itself
    except StepInterrupted:
        return 143
    except RootlessBuildError as e:
        print(f"{prefix}Error: {e}", file=sys.stderr, flush=True)
        error_file = os.environ.get(ERROR_ENV)
        if error_file:
            with open(error_file, "w") as f:
                f.write(str(e))
        return 1
    finally:
        scratch = sys.modules.get("rootless_build.store.scratch")
        if scratch is not None:  # this process's temp dir in the store, as cli/main.py does
            scratch.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
