"""Keyed pseudonyms for resource ids and references, and the per-patient date shift.

A pseudonym is ``HMAC-SHA256(key, project ␟ resourceType ␟ id)`` written in hexadecimal and cut
to ``length`` characters (64 at most, a valid FHIR id). The same key, project, type and id always
give the same pseudonym, so references still join inside the research zone; another project or
another key gives values that cannot be linked to these without the keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from hygie.errors import ConfigError
from hygie.privacy.keys import ProjectKey

SEPARATOR = "\x1f"
RELATIVE_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


class Pseudonymizer:
    """Pseudonyms and date shifts of one project, with a cache per run."""

    def __init__(self, key: ProjectKey, length: int = 64) -> None:
        if not 16 <= length <= 64:
            raise ConfigError(f"pseudonym length {length} must be between 16 and 64 characters")
        self._secret = key.secret
        self._project = key.project
        self.length = length
        self._ids: dict[tuple[str, str], str] = {}
        self._shifts: dict[tuple[str, int], int] = {}

    def _digest(self, *parts: str) -> bytes:
        message = SEPARATOR.join((self._project, *parts)).encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def resource_id(self, resource_type: str, resource_id: str) -> str:
        """The pseudonym of ``resource_type/resource_id``."""
        cache_key = (resource_type, resource_id)
        found = self._ids.get(cache_key)
        if found is None:
            found = self._digest(resource_type, resource_id).hex()[: self.length]
            self._ids[cache_key] = found
        return found

    def reference(self, reference: str) -> str | None:
        """``Type/id`` -> ``Type/<pseudonym>``; local ``#id`` kept; any other form -> None.

        Absolute URLs, ``urn:uuid:`` and conditional references may name a record outside the
        zone: they are dropped (fail closed) rather than copied.
        """
        if reference.startswith("#"):
            return reference
        match = RELATIVE_REFERENCE.match(reference)
        if match is None:
            return None
        return f"{match[1]}/{self.resource_id(match[1], match[2])}"

    def shift_days(self, owner: str, max_days: int) -> int:
        """Days every date of ``owner`` (usually ``Patient/<id>``) moves: in ±[1, max_days].

        Derived from the HMAC of the owner, so it is stable across builds and never 0.
        """
        if max_days < 1:
            return 0
        cache_key = (owner, max_days)
        found = self._shifts.get(cache_key)
        if found is None:
            draw = int.from_bytes(self._digest("date-shift", owner)[:8], "big")
            magnitude = 1 + (draw >> 1) % max_days
            found = magnitude if draw & 1 else -magnitude
            self._shifts[cache_key] = found
        return found
