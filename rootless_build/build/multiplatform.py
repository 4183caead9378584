"""`build --platform a,b` and `build --manifest NAME`: one build per platform, the images
kept together as a manifest list (an OCI index) under the tag or the --manifest name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rootless_build.build.options import BuildOptions
from rootless_build.record import replace


def build_platforms(store: Any, options: BuildOptions, targets: list[str], progress: Any,
                    run_build: Callable[..., Any]) -> Any:
    """Build for each of `targets` (None: the host) and return the ManifestList written.

    With several platforms the images themselves stay untagged (the names go to the list);
    with --manifest and one platform the image also keeps its tags, as buildah does.
    """
    from rootless_build.store import lists

    several = len(targets) > 1
    images = []
    for target in targets or [None]:
        if several:
            print(f"[{target}]", file=progress.out, flush=True)
        one = replace(options, platform=target, tags=[] if several else list(options.tags),
                      iidfile=None if several else options.iidfile, metadata_file=None)
        images.append(run_build(store, one, progress))
    if options.manifest:
        for image in images:
            found = lists.add_image(store, options.manifest, image)
        names = [options.manifest]
    else:
        descriptors = [lists.image_descriptor(image) for image in images]
        names = list(options.tags)
        for name in names:
            found = lists.save_list(store, name, descriptors)
    if several and options.iidfile:
        _write(options.iidfile, found.digest)
    for name in names:
        print(f"Manifest list {name}: {found.digest}", file=progress.out, flush=True)
    return found


def _write(path: str, text: str) -> None:
    from rootless_build.errors import UsageError

    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise UsageError(f"cannot write --iidfile {path}: {e.strerror}") from None
