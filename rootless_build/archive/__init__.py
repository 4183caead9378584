"""Image transports: save to and load from oci-archive, docker-archive and oci-dir, and
import of a rootfs tarball. Sits beside build/ and registry/; uses store, layers, oci."""
