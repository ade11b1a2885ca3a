"""Zones the API can serve, as data: a server serves one zone, a client is bound to one zone.

A client bound to another zone than the server's is refused at the token endpoint and on every
request (its tokens carry the zone they were issued for). Only the care zone exists today; the
research zone will add its own views here.
"""

from __future__ import annotations

from dataclasses import dataclass

from hygie.errors import ConfigError


@dataclass(frozen=True)
class Zone:
    """A zone of the warehouse and the views the API reads in it."""

    name: str
    current_view: str
    """Current, non-deleted resources (columns resource_type, id, version_id, last_updated,
    resource)."""
    history_view: str
    """Every version, JSON NULL for deletes."""
    writable: bool


ZONES: dict[str, Zone] = {
    "care": Zone("care", "resource", "resource_history", writable=True),
}
ZONE_NAMES = ("care", "research")
"""Zone names a client may be registered for (the research zone is served once it exists)."""


def zone_named(name: str) -> Zone:
    """The zone ``name``, or a ConfigError saying which zones can be served."""
    if name not in ZONES:
        raise ConfigError(
            f"the API cannot serve the zone {name!r}: it serves {', '.join(sorted(ZONES))}"
        )
    return ZONES[name]
