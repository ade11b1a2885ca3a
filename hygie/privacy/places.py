"""Addresses reduced to a coarse place.

Levels (policy ``address_level``):

- ``none``: the address is dropped;
- ``country``: only ``country`` is kept;
- ``departement``: ``country`` and the département, derived from the postcode (French postcodes
  start with the département number; Corsica 20000-20199 is 2A, 20200-20999 is 2B; overseas
  971-976 and the overseas collectivities 975, 977, 978, 98x keep three digits), written in
  ``Address.district``. Street lines, city, postcode, text and geolocation are always dropped.

Source: La Poste, *base officielle des codes postaux*; INSEE, *code officiel géographique*.
"""

from __future__ import annotations

import re
from typing import Any

ADDRESS_LEVELS = ("none", "country", "departement")
POSTCODE = re.compile(r"^\s*(\d{5})\s*$")


def departement_of_postcode(postcode: str) -> str | None:
    """The département code of a French postcode, or None when it is not one.

    >>> departement_of_postcode("35000"), departement_of_postcode("20167"), departement_of_postcode("97400")
    ('35', '2A', '974')
    """
    match = POSTCODE.match(postcode)
    if match is None:
        return None
    digits = match[1]
    if digits.startswith("20"):
        return "2A" if int(digits) < 20200 else "2B"
    if digits.startswith(("97", "98")):
        return digits[:3]
    if digits == "00000":
        return None
    return digits[:2]


def reduce_address(address: dict[str, Any], level: str) -> dict[str, Any] | None:
    """The address kept at ``level`` (see the module documentation), or None."""
    if level == "none":
        return None
    kept: dict[str, Any] = {}
    country = address.get("country")
    if isinstance(country, str) and len(country) <= 3:
        kept["country"] = country
    if level == "departement":
        postcode = address.get("postalCode")
        departement = departement_of_postcode(postcode) if isinstance(postcode, str) else None
        if departement is not None:
            kept["district"] = departement
            kept.setdefault("country", "FR")
    return kept or None
