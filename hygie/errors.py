"""The one error root of Hygie and its families.

Every error a user can meet is a :class:`HygieError`. Its family decides the exit code of the
``hygie`` command (see :data:`EXIT_CODES`); its message says what was wrong, where, and what to do.
"""

from __future__ import annotations


class HygieError(Exception):
    """Root of every error Hygie raises on purpose."""

    exit_code = 1


class InputError(HygieError):
    """An input (file, message, argument) cannot be read or is not what it claims to be."""

    exit_code = 2


class ConfigError(HygieError):
    """Settings are missing or inconsistent (hygie.toml, environment, command options)."""

    exit_code = 3


class WarehouseError(HygieError):
    """The warehouse is missing, not initialised, or cannot be opened."""

    exit_code = 4


class WarehouseBusyError(WarehouseError):
    """Another process holds the warehouse lock."""

    exit_code = 5


class QueryError(HygieError):
    """A SQL statement failed in the engine."""

    exit_code = 6


class AuthError(HygieError):
    """Authentication or authorization refused (fails closed)."""

    exit_code = 7


class QuarantineError(HygieError):
    """Raised by ``--strict`` runs when some input was quarantined."""

    exit_code = 8


EXIT_CODES: dict[type[HygieError], int] = {
    cls: cls.exit_code
    for cls in (
        HygieError,
        InputError,
        ConfigError,
        WarehouseError,
        WarehouseBusyError,
        QueryError,
        AuthError,
        QuarantineError,
    )
}
