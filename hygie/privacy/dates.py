"""Date shifting and generalization of FHIR ``date``, ``dateTime`` and ``instant`` values.

A shift moves the calendar date and keeps the clock time and the UTC offset as written, so the
interval between any two shifted instants of a patient is exactly the original one. Partial
dates keep their precision: a month (``2024-03``) moves as its 15th day, a year as its 1st of
July.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")


def shift_fhir_date(value: str, days: int) -> str | None:
    """``value`` moved by ``days``; None when it is not a FHIR date (the caller drops it).

    >>> shift_fhir_date("2024-03-12T08:30:00+01:00", -20)
    '2024-02-21T08:30:00+01:00'
    >>> shift_fhir_date("2024-03", 30)
    '2024-04'
    """
    match = FHIR_DATE.match(value)
    if match is None:
        return None
    year, month, day, time = match.groups()
    try:
        if day is not None:
            moved = date(int(year), int(month), int(day)) + timedelta(days=days)
            return moved.isoformat() + (time or "")
        if month is not None:
            moved = date(int(year), int(month), 15) + timedelta(days=days)
            return f"{moved.year:04d}-{moved.month:02d}"
        moved = date(int(year), 7, 1) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return f"{moved.year:04d}"


def parse_day(value: str) -> date | None:
    """The calendar day of a FHIR date or dateTime (partial dates go to their first day)."""
    match = FHIR_DATE.match(value)
    if match is None:
        return None
    year, month, day, _ = match.groups()
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def generalize_birth_date(
    shifted: str,
    precision: str,
    age_on_reference: int | None = None,
    age_cap: int = 90,
    reference_year: int | None = None,
) -> str:
    """A shifted birth date cut to ``precision`` (``year``, ``month`` or ``day``).

    A patient aged ``age_cap`` or more on the reference day (death, else the build day) is
    grouped with all of them: the birth date becomes the year ``reference_year - age_cap``
    (HIPAA safe-harbour style "90 or older").
    """
    day = parse_day(shifted)
    if day is None:
        return shifted[:4]
    if age_on_reference is not None and age_on_reference >= age_cap:
        year = reference_year if reference_year is not None else day.year + age_on_reference
        return f"{year - age_cap:04d}"
    if precision == "year":
        return f"{day.year:04d}"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def age_in_years(birth: date, on: date) -> int:
    """Completed years between ``birth`` and ``on``."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
