"""Image signatures as podman and skopeo make and check them: simple-signing payloads,
sigstore (cosign) keys, GPG, policy.json and registries.d."""
