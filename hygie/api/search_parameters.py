"""The search parameters of ``search_parameters.toml``, loaded and checked."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hygie.api.compartment import checked_path

PARAMETER_TYPES = ("id", "last_updated", "token", "reference", "date", "string")
TOKEN_KINDS = ("code", "coding", "identifier")
FHIR_TYPE = {
    "id": "token",
    "last_updated": "date",
    "token": "token",
    "reference": "reference",
    "date": "date",
    "string": "string",
}


@dataclass(frozen=True)
class SearchParameter:
    """One supported parameter of one resource type (or of every type, for common ones)."""

    name: str
    type: str
    paths: tuple[str, ...] = ()
    kind: str | None = None
    targets: tuple[str, ...] = ()

    @property
    def fhir_type(self) -> str:
        return FHIR_TYPE[self.type]


@cache
def search_parameters() -> dict[str, dict[str, SearchParameter]]:
    """Parameters by resource type; key ``common`` holds those of every type."""
    text = resources.files("hygie.api").joinpath("search_parameters.toml").read_text("utf-8")
    document = tomllib.loads(text)
    table: dict[str, dict[str, SearchParameter]] = {}
    for resource_type, parameters in document.items():
        table[resource_type] = {}
        for name, spec in parameters.items():
            origin = f"search_parameters.toml [{resource_type}] {name}"
            if spec["type"] not in PARAMETER_TYPES:
                raise ValueError(f"{origin}: unknown type {spec['type']!r}")
            kind = spec.get("kind")
            if spec["type"] == "token" and kind not in TOKEN_KINDS:
                raise ValueError(f"{origin}: token kind must be one of {TOKEN_KINDS}")
            table[resource_type][name] = SearchParameter(
                name,
                spec["type"],
                tuple(checked_path(p, origin) for p in spec.get("paths", ())),
                kind,
                tuple(spec.get("target", ())),
            )
    return table


def parameters_of(resource_type: str) -> dict[str, SearchParameter]:
    """Every parameter usable on ``resource_type``."""
    table = search_parameters()
    return {**table["common"], **table.get(resource_type, {})}


def reference_parameter(resource_type: str, name: str) -> SearchParameter | None:
    """The reference parameter ``name`` of ``resource_type``, for _include/_revinclude."""
    parameter = parameters_of(resource_type).get(name)
    return parameter if parameter is not None and parameter.type == "reference" else None
