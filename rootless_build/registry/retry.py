"""Backoff for temporary registry errors (5xx, 429, dropped connections)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5          # tries in all, the first included
    base: float = 0.5          # seconds before the second try; doubles each time
    ceiling: float = 8.0       # never wait longer than this between two tries

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        if retry_after:
            try:
                return min(float(retry_after), self.ceiling)
            except ValueError:
                pass  # an HTTP date: fall back to our own schedule
        wait = min(self.base * (2 ** (attempt - 1)), self.ceiling)
        return wait * random.uniform(0.75, 1.0)  # spread out clients that failed together

    def sleep(self, attempt: int, retry_after: str | None = None) -> None:
        time.sleep(self.delay(attempt, retry_after))


def default_backoff() -> Backoff:
    """The policy in use; RB_REGISTRY_RETRY_BASE shortens waits (tests, CI on loopback)."""
    base = os.environ.get("RB_REGISTRY_RETRY_BASE")
    try:
        return Backoff(base=float(base)) if base else Backoff()
    except ValueError:
        return Backoff()
