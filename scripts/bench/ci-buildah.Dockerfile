# buildah as its documentation runs it in a container: Debian's buildah in a Debian image,
# chroot isolation and vfs storage (the comparison of scripts/bench/ci_image.sh).
ARG REGISTRY=localhost:5000
FROM ${REGISTRY}/debian:latest
RUN apt-get -qq update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --no-install-recommends buildah ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
