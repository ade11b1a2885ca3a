"""The de-identification policy: the allow-list of each resource type and the settings.

The default policy is ``policy.toml`` next to this module (read it: it is the documentation of
what the research zone keeps). A project can pass its own file with the same layout.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union

from hygie.errors import ConfigError
from hygie.privacy.places import ADDRESS_LEVELS

TREATMENTS = frozenset(
    {"keep", "text", "date", "birthDate", "address", "reference", "attachment", "contained"}
)
BIRTH_DATE_PRECISIONS = ("year", "month", "day")
TEXT_DATES = ("placeholder", "shift")

Node = dict[str, Union[str, "Node"]]
"""A compiled allow-list: element name -> a treatment, or the node of its children."""


@dataclass(frozen=True)
class PolicySettings:
    """The settings of a policy (``[settings]``)."""

    date_shift_max_days: int = 180
    birth_date: str = "year"
    age_cap: int = 90
    address_level: str = "departement"
    text_dates: str = "placeholder"
    pseudonym_length: int = 64


@dataclass(frozen=True)
class Policy:
    """A compiled policy: settings, one allow-list node per resource type, and its digest."""

    settings: PolicySettings
    resources: dict[str, Node]
    source: str
    sha256: str

    def allows(self, resource_type: str) -> bool:
        """True when resources of this type enter the research zone."""
        return resource_type in self.resources


def _settings(table: dict[str, Any], origin: str) -> PolicySettings:
    known = set(PolicySettings.__dataclass_fields__)
    unknown = set(table) - known
    if unknown:
        raise ConfigError(
            f"{origin}: unknown setting(s) {sorted(unknown)} (known: {sorted(known)})"
        )
    try:
        settings = PolicySettings(**table)
    except TypeError as exc:
        raise ConfigError(f"{origin}: bad [settings]: {exc}") from exc
    checks = (
        (settings.birth_date in BIRTH_DATE_PRECISIONS, f"birth_date in {BIRTH_DATE_PRECISIONS}"),
        (settings.address_level in ADDRESS_LEVELS, f"address_level in {ADDRESS_LEVELS}"),
        (settings.text_dates in TEXT_DATES, f"text_dates in {TEXT_DATES}"),
        (0 <= int(settings.date_shift_max_days) <= 3650, "date_shift_max_days in 0..3650"),
        (18 <= int(settings.age_cap) <= 120, "age_cap in 18..120"),
        (16 <= int(settings.pseudonym_length) <= 64, "pseudonym_length in 16..64"),
    )
    for ok, rule in checks:
        if not ok:
            raise ConfigError(f"{origin}: [settings] must have {rule}")
    return settings


def _compile(
    table: dict[str, Any], datatypes: dict[str, Any], origin: str, where: str, seen: tuple[str, ...]
) -> Node:
    node: Node = {}
    for name, value in table.items():
        path = f"{where}.{name}"
        if isinstance(value, dict):
            node[name] = _compile(value, datatypes, origin, path, seen)
        elif not isinstance(value, str):
            raise ConfigError(f"{origin}: {path} must be a treatment or a data type name")
        elif value in TREATMENTS:
            node[name] = value
        elif value in datatypes:
            if value in seen:
                raise ConfigError(f"{origin}: data type {value} refers to itself ({path})")
            node[name] = _compile(datatypes[value], datatypes, origin, value, (*seen, value))
        else:
            raise ConfigError(
                f"{origin}: {path} = {value!r} is neither a treatment "
                f"({', '.join(sorted(TREATMENTS))}) nor a data type of [datatypes]"
            )
    return node


def parse_policy(text: str, origin: str) -> Policy:
    """Compile the policy TOML ``text`` (``origin`` names it in error messages)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}") from exc
    datatypes = document.get("datatypes", {})
    compiled = {
        resource_type: _compile(table, datatypes, origin, resource_type, ())
        for resource_type, table in document.get("resources", {}).items()
    }
    if not compiled:
        raise ConfigError(f"{origin} lists no resource type under [resources.<Type>]")
    return Policy(
        settings=_settings(document.get("settings", {}), origin),
        resources=compiled,
        source=origin,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``, or the default policy shipped with Hygie."""
    if path is None:
        text = resources.files("hygie.privacy").joinpath("policy.toml").read_text("utf-8")
        return parse_policy(text, "hygie/privacy/policy.toml")
    try:
        return parse_policy(path.read_text("utf-8"), str(path))
    except FileNotFoundError as exc:
        raise ConfigError(f"the privacy policy file {path} does not exist") from exc
