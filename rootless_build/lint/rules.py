"""The lint rules: BuildKit's (same names, descriptions, messages and URLs) and ours.

Each rule is data: `build --check --list-rules` prints this table, `--format json`
carries the description and URL with every warning. Messages are formatted by the
check that finds the problem (checks_*.py), with BuildKit's wording.
"""

from __future__ import annotations

from rootless_build.record import Record

_DOCS = "https://docs.docker.com/go/dockerfile/rule/"


class Rule(Record, frozen=True):
    name: str
    description: str
    url: str = ""
    experimental: bool = False  # runs only when `# check=experimental=NAME` (or all) asks
    origin: str = "buildkit"  # "buildkit" or "rootless-build"


def _buildkit(name: str, slug: str, description: str, *, experimental: bool = False) -> Rule:
    return Rule(name, description, _DOCS + slug + "/" if slug else "", experimental)


_ALL = (
    _buildkit("StageNameCasing", "stage-name-casing", "Stage names should be lowercase"),
    _buildkit("FromAsCasing", "from-as-casing", "The 'as' keyword should match the case of the 'from' keyword"),
    _buildkit("NoEmptyContinuation", "no-empty-continuation",
              "Empty continuation lines will become errors in a future release"),
    _buildkit("ConsistentInstructionCasing", "consistent-instruction-casing",
              "All commands within the Dockerfile should use the same casing (either upper or lower)"),
    _buildkit("DuplicateStageName", "duplicate-stage-name", "Stage names should be unique"),
    _buildkit("ReservedStageName", "reserved-stage-name", "Reserved words should not be used as stage names"),
    _buildkit("JSONArgsRecommended", "json-args-recommended",
              "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals"),
    _buildkit("MaintainerDeprecated", "maintainer-deprecated",
              "The MAINTAINER instruction is deprecated, use a label instead to define an image author"),
    _buildkit("UndefinedArgInFrom", "undefined-arg-in-from", "FROM command must use declared ARGs"),
    _buildkit("WorkdirRelativePath", "workdir-relative-path",
              "Relative workdir without an absolute workdir declared within the build can have unexpected "
              "results if the base image changes"),
    _buildkit("UndefinedVar", "undefined-var", "Variables should be defined before their use"),
    _buildkit("MultipleInstructionsDisallowed", "multiple-instructions-disallowed",
              "Multiple instructions of the same type should not be used in the same stage"),
    _buildkit("LegacyKeyValueFormat", "legacy-key-value-format",
              "Legacy key/value format with whitespace separator should not be used"),
    _buildkit("InvalidBaseImagePlatform", "", "Base image platform does not match expected target platform"),
    _buildkit("RedundantTargetPlatform", "redundant-target-platform",
              "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"),
    _buildkit("SecretsUsedInArgOrEnv", "secrets-used-in-arg-or-env",
              "Sensitive data should not be used in the ARG or ENV commands"),
    _buildkit("InvalidDefaultArgInFrom", "invalid-default-arg-in-from",
              "Default value for global ARG results in an empty or invalid base image name"),
    _buildkit("FromPlatformFlagConstDisallowed", "from-platform-flag-const-disallowed",
              "FROM --platform flag should not use a constant value"),
    _buildkit("CopyIgnoredFile", "copy-ignored-file", "Attempting to Copy file that is excluded by .dockerignore"),
    _buildkit("InvalidDefinitionDescription", "invalid-definition-description",
              "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. "
              "If this is not intended to be a description comment, add an empty line or comment between the "
              "instruction and the comment.", experimental=True),
    _buildkit("ExposeProtoCasing", "expose-proto-casing", "Protocol in EXPOSE instruction should be lowercase"),
    _buildkit("ExposeInvalidFormat", "expose-invalid-format",
              "IP address and host-port mapping should not be used in EXPOSE instruction. "
              "This will become an error in a future release"),
    Rule(
        "SecretsInBuildArgOrLayer",
        "Secrets should reach a build through --secret or --ssh, never through --build-arg or a COPY/ADD: "
        "a build argument is recorded in the image history and in the build cache, and a copied key file "
        "stays in a layer even if a later step deletes it. Detected: a --build-arg whose name looks like a "
        "secret (SecretsUsedInArgOrEnv's pattern) and is consumed by an ARG, and a COPY or ADD of a file "
        "named like a private key or credentials (id_rsa, id_ed25519, *.pem, *.key, *.p12, .env, .npmrc, ...).",
        origin="rootless-build",
    ),
    Rule(
        "AptInstallHygiene",
        "`apt-get install` should use --no-install-recommends and remove /var/lib/apt/lists/* in the same "
        "RUN: recommended packages are rarely needed in an image, and package lists left behind add tens of "
        "megabytes to the layer (a later RUN cannot take them out of it). A RUN whose script mentions a cache "
        "mount on /var/lib/apt is not flagged for the lists.",
        origin="rootless-build",
    ),
)

RULES: dict[str, Rule] = {rule.name: rule for rule in _ALL}
