"""Software bills of materials: the packages installed in an image (scan, packages,
gobinary, flatten), written as SPDX 2.3 or CycloneDX 1.5 (document), attached to the
image as an OCI artifact (generate)."""
