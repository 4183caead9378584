"""Checks shared by the build end-to-end tests."""

from __future__ import annotations


def history_matches_layers(config: dict) -> bool:
    """history entries without empty_layer correspond one to one to diff_ids."""
    layered = [h for h in config.get("history", []) if not h.get("empty_layer")]
    return len(layered) == len(config["rootfs"]["diff_ids"])
