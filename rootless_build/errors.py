"""The project's exception tree. Only cli/ turns these into exit codes and messages.

RootlessBuildError            anything we expect and can explain in one line
  UsageError                  bad flags or arguments (exit 125, like docker)
  DockerfileError             a Dockerfile problem, carries file:line
  ImageNotFound               a reference the store does not hold
  StoreError                  the on-disk store is inconsistent or unwritable
    BlobCorrupt               a blob's digest or size does not match
  LayerError                  a layer tar is malformed or unsafe to extract
  BuildError                  a build step failed (message already names the step)
  SandboxError                a user namespace, mount or process problem
  RegistryError               a registry answered with an error (see registry/errors)
  ContainerError              container lifecycle problems
  SignatureError              a key, signature or trust policy problem; refused images
"""

from __future__ import annotations


class RootlessBuildError(Exception):
    """Base of every error we expect; str(e) is the one-line message for the user."""

    exit_code = 1


class UsageError(RootlessBuildError):
    exit_code = 125


class DockerfileError(RootlessBuildError):
    def __init__(self, message: str, filename: str = "Dockerfile", line: int | None = None):
        self.filename = filename
        self.line = line
        self.reason = message
        where = f"{filename}:{line}" if line is not None else filename
        super().__init__(f"{where}: {message}")


class ImageNotFound(RootlessBuildError):
    pass


class StoreError(RootlessBuildError):
    pass


class BlobCorrupt(StoreError):
    pass


class LayerError(RootlessBuildError):
    pass


class BuildError(RootlessBuildError):
    pass


class SandboxError(RootlessBuildError):
    pass


class RegistryError(RootlessBuildError):
    """A registry error; `temporary` errors (5xx, 429, dropped connections) are retried."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None, temporary: bool = False):
        self.code = code
        self.status = status
        self.temporary = temporary
        super().__init__(message)


class ContainerError(RootlessBuildError):
    pass


class SignatureError(RootlessBuildError):
    """A key that cannot be used, a signature that cannot be made, or an image the trust
    policy (policy.json) refuses: the message names the policy entry."""
