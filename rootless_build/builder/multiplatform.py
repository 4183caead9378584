"""`build --platform a,b` and `build --manifest NAME`: one build per platform, the images
kept together as a manifest list (an OCI index) under the tag or the --manifest name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rootless_build.builder.options import BuildOptions
from rootless_build.errors import UsageError
from rootless_build.record import replace


def build_platforms(store: Any, options: BuildOptions, targets: Sequence[str | None], progress: Any,
                    run_build: Callable[..., Any]) -> Any:
    """Build for each of `targets` (None: the host) and return the ManifestList written.

    With several platforms the images themselves stay untagged (the names go to the list);
    with --manifest and one platform the image also keeps its tags, as buildah does.
    """
    from rootless_build.store import lists

    several = len(targets) > 1
    images = []
    for target in targets or [None]:  # (none: --manifest for this host)
        if several and not progress.quiet:
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
        from rootless_build.builder.resultfiles import write_iidfile

        write_iidfile(options.iidfile, found.digest)
    for name in names if not progress.quiet else ():
        print(f"Manifest list {name}: {found.digest}", file=progress.out, flush=True)
    return found


def check_list_outputs(outputs: list, tags: list[str], manifest: str | None) -> None:
    """What -o can do with a manifest list: an OCI archive or directory of it, or the list
    under a name (pushed on request); refused before anything is built."""
    if len(tags) == 0 and manifest is None:
        raise UsageError("--platform with several platforms needs -t NAME or --manifest NAME for the list")
    for output in outputs:
        if output.type not in ("oci", "image", "registry"):
            raise UsageError(f"--output type={output.type} writes one image; a multi-platform build "
                             "gives a manifest list: use type=oci, type=image or type=registry")
        if output.dest == "-":
            raise UsageError("a multi-platform build cannot write its archive to stdout; give dest=FILE")


def export_list(store: Any, found: Any, outputs: list, registry_options: Any) -> None:
    """Write the manifest list `found` (with all its images) to each output."""
    from rootless_build.store import lists

    for output in outputs:
        if output.type == "oci":
            from rootless_build.archive.save import save

            save(store, [found.name], output.dest, "oci-archive" if output.tar else "oci-dir", output.compression)
            continue
        for name in [n for n in (output.name or "").split(",") if n] or [found.name]:
            named = found if name == found.name else lists.save_list(store, name, found.manifests)
            if output.push:
                from rootless_build.registry.push import push_list

                push_list(store, named, name, options=registry_options, compression=output.compression or "gzip")

