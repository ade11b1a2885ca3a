"""Patient compartments: which resources belong to which patients, from the R4 definition.

The definition is data (``patient_compartment.toml``). The same paths make the SQL predicate
used to confine searches and exports, and the Python check used on single reads and audits.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

JSON_PATH = re.compile(r"\$(\.[A-Za-z]+(\[\*\])?)+")
"""The JSON paths the data files may use (checked before they are placed in SQL)."""
PATIENT_PREFIX = "Patient/"


def checked_path(path: str, origin: str) -> str:
    """``path`` when it is a plain JSON path of element names, else a ValueError."""
    if JSON_PATH.fullmatch(path) is None:
        raise ValueError(f"{origin}: {path!r} is not a JSON path of element names")
    return path


@cache
def compartment_paths() -> dict[str, tuple[str, ...]]:
    """Per resource type, the JSON paths of the references to the compartment's patient."""
    text = resources.files("hygie.api").joinpath("patient_compartment.toml").read_text("utf-8")
    table = tomllib.loads(text)["paths"]
    return {
        resource_type: tuple(checked_path(p, "patient_compartment.toml") for p in paths)
        for resource_type, paths in table.items()
    }


def path_values(node: Any, path: str) -> list[Any]:
    """The values a JSON path of element names selects in a parsed resource."""
    current = [node]
    for step in path[2:].split("."):
        name, repeated = (step[:-3], True) if step.endswith("[*]") else (step, False)
        selected: list[Any] = []
        for value in current:
            child = value.get(name) if isinstance(value, dict) else None
            if child is None:
                continue
            if repeated and isinstance(child, list):
                selected.extend(child)
            elif not repeated:
                selected.append(child)
        current = selected
    return current


def patients_of(resource_type: str, resource: dict[str, Any]) -> set[str]:
    """Ids of the patients whose compartment holds ``resource``."""
    found: set[str] = set()
    if resource_type == "Patient" and isinstance(resource.get("id"), str):
        found.add(resource["id"])
    for path in compartment_paths().get(resource_type, ()):
        for value in path_values(resource, path):
            if isinstance(value, str) and value.startswith(PATIENT_PREFIX):
                found.add(value[len(PATIENT_PREFIX) :])
    return found


def in_compartment_types() -> frozenset[str]:
    """Types that can be in a patient compartment (the Patient type included)."""
    return frozenset(compartment_paths()) | {"Patient"}


def compartment_clause(resource_type: str, patient_ids: list[str] | None) -> tuple[str, list[Any]]:
    """SQL predicate (on columns ``id`` and ``resource``) for "in these patients' compartments".

    ``patient_ids`` None means "in some patient's compartment". A type outside every compartment
    gives ``false``: confined access never reaches it.
    """
    paths = compartment_paths().get(resource_type)
    if paths is None and resource_type != "Patient":
        return "false", []
    clauses: list[str] = []
    params: list[Any] = []
    references = None if patient_ids is None else [PATIENT_PREFIX + p for p in patient_ids]
    if resource_type == "Patient":
        if patient_ids is None:
            clauses.append("true")
        else:
            clauses.append("list_contains(?, id)")
            params.append(list(patient_ids))
    for path in paths or ():
        if path.endswith("[*]") or "[*]" in path:
            if references is None:
                clauses.append(
                    f"len(list_filter(json_extract_string(resource, '{path}'), "
                    "lambda r: starts_with(r, 'Patient/'))) > 0"
                )
            else:
                clauses.append(f"list_has_any(json_extract_string(resource, '{path}'), ?)")
                params.append(references)
        elif references is None:
            clauses.append(f"starts_with(json_extract_string(resource, '{path}'), 'Patient/')")
        else:
            clauses.append(f"list_contains(?, json_extract_string(resource, '{path}'))")
            params.append(references)
    return "(" + " OR ".join(clauses) + ")", params
