"""Hygie: an open-source health-data platform for hospitals and hospital networks."""

from __future__ import annotations

__version__ = "0.1.0"
