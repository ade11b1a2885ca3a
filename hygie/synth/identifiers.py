"""French identifiers: NIR/INS, RPPS, FINESS, CIP13 check digits, and deterministic UUIDs.

The NIR (numéro d'inscription au répertoire, the matricule of the INS) has 15 characters::

    s YY MM DD CCC OOO KK
    | |  |  |  |   |   +-- key: 97 - (first 13 digits mod 97)
    | |  |  |  |   +------ order number of the birth in the commune and month (001-999)
    | |  |  |  +---------- commune of birth (INSEE), or country code when born abroad
    | |  |  +------------- département of birth (2A/2B for Corsica since 1976; 99 abroad)
    | |  +---------------- month of birth
    | +------------------- last two digits of the year of birth
    +--------------------- sex: 1 male, 2 female

For Corsica the key is computed after replacing ``2A`` by ``19`` and ``2B`` by ``18``
(INSEE, "Le numéro d'inscription au répertoire"; ANS, référentiel INS).
"""

from __future__ import annotations

import random

NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
"""INS-NIR identifier system (ANS, référentiel INS)."""

IPP_SYSTEM = "urn:oid:1.2.250.1.999.1.1"
"""Local patient identifier (IPP) of the synthetic network; ``1.2.250.1.999`` is not assigned
to a real organisation and stands for a hospital's own OID arc."""

RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
"""RPPS national practitioner identifier (ANS)."""

FINESS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
"""FINESS establishment identifier (ANS)."""


def nir_key(first13: str) -> int:
    """Return the NIR control key of the first 13 characters.

    >>> nir_key("1840375115345")
    53
    >>> nir_key("285052A004123") == 97 - int("2850519004123") % 97
    True
    """
    digits = first13.upper().replace("2A", "19").replace("2B", "18")
    if len(digits) != 13 or not digits.isdigit():
        raise ValueError(f"not the first 13 characters of a NIR: {first13!r}")
    return 97 - int(digits) % 97


def make_nir(
    sex: str, birth_year: int, birth_month: int, departement: str, commune: str, order: int
) -> str:
    """Assemble a 15-character NIR with its key.

    ``sex`` is ``male`` or ``female``; ``departement`` has two characters and ``commune`` three.
    """
    head = (
        f"{1 if sex == 'male' else 2}{birth_year % 100:02d}{birth_month:02d}"
        f"{departement}{commune}{order:03d}"
    )
    return f"{head}{nir_key(head):02d}"


def is_valid_nir(nir: str) -> bool:
    """True when ``nir`` has 15 characters and a correct key."""
    if len(nir) != 15:
        return False
    try:
        return nir_key(nir[:13]) == int(nir[13:])
    except ValueError:
        return False


def luhn_check_digit(digits: str) -> int:
    """Luhn check digit for ``digits`` (used by RPPS and FINESS numbers)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def is_valid_luhn(number: str) -> bool:
    """True when the last digit of ``number`` is its Luhn check digit."""
    return number.isdigit() and luhn_check_digit(number[:-1]) == int(number[-1])


def ean13_check_digit(digits12: str) -> int:
    """EAN-13 check digit (CIP13 pack codes are EAN-13 numbers starting with 3400)."""
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits12))
    return (10 - total % 10) % 10


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (deterministic for a seeded generator)."""
    h = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"
