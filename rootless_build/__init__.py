"""rootless-build: a rootless, daemonless OCI image builder and container manager."""

__version__ = "0.1.0"
