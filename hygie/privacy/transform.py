"""One care-zone resource -> its research-zone form, by the allow-list of the policy.

Only what the policy lists is copied, each element through its treatment (see ``policy.toml``):
ids and references become keyed pseudonyms, dates move by the patient's shift, birth dates are
generalized, addresses reduced, free text de-identified. The resource id is the pseudonym of
``resourceType/id``; ``contained`` resources keep their local ids.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from hygie.privacy.dates import age_in_years, generalize_birth_date, parse_day, shift_fhir_date
from hygie.privacy.places import reduce_address
from hygie.privacy.policy import Node, Policy
from hygie.privacy.pseudonyms import Pseudonymizer
from hygie.privacy.text.deid import PatientContext, TextDeidentifier

TEXT_CACHE_SIZE = 200_000
OWNER_CACHE_SIZE = 100_000


class _Owner:
    """The person (or shared resource) whose shift and known names apply to a resource."""

    __slots__ = ("birth_reference", "context", "key", "shift")

    def __init__(
        self, key: str, shift: int, context: PatientContext | None, birth_reference: date | None
    ) -> None:
        self.key = key
        self.shift = shift
        self.context = context
        self.birth_reference = birth_reference


class ResourceDeidentifier:
    """Applies a policy to resources; ``patient_context`` gives a patient's known values."""

    def __init__(
        self,
        policy: Policy,
        pseudonymizer: Pseudonymizer,
        text: TextDeidentifier,
        patient_context: Callable[[str], PatientContext | None],
        today: date,
    ) -> None:
        self.policy = policy
        self.settings = policy.settings
        self.pseudonymizer = pseudonymizer
        self.text = text
        self.patient_context = patient_context
        self.today = today
        self._text_cache: dict[tuple[str, str], str] = {}
        self._owners: dict[str, _Owner] = {}
        self.texts_deidentified = 0

    def owner(self, resource_type: str, resource_id: str, patient_id: str | None) -> _Owner:
        """The owner of a resource: its patient when it has one, else the resource itself."""
        key = f"Patient/{patient_id}" if patient_id else f"{resource_type}/{resource_id}"
        found = self._owners.get(key)
        if found is not None:
            return found
        shift = self.pseudonymizer.shift_days(key, self.settings.date_shift_max_days)
        context = self.patient_context(patient_id) if patient_id else None
        if context is not None and context.shift_days != shift:
            context = PatientContext(
                context.names, context.identifiers, context.phones, context.emails,
                context.address_lines, context.cities, context.postcodes, shift,
                context.known_names,
            )  # fmt: skip
        found = _Owner(key, shift, context, None)
        if patient_id:
            if len(self._owners) >= OWNER_CACHE_SIZE:
                self._owners.clear()
            self._owners[key] = found
        return found

    def deidentify(self, resource: dict[str, Any], patient_id: str | None) -> dict[str, Any] | None:
        """The research form of ``resource``, or None when the policy leaves it out."""
        resource_type = resource.get("resourceType")
        resource_id = resource.get("id")
        if not isinstance(resource_type, str) or not isinstance(resource_id, str):
            return None
        return self.apply(resource, self.owner(resource_type, resource_id, patient_id))

    def apply(self, resource: dict[str, Any], owner: _Owner) -> dict[str, Any] | None:
        """:meth:`deidentify` with the owner already known (see :meth:`owner`)."""
        resource_type = resource.get("resourceType")
        resource_id = resource.get("id")
        if not isinstance(resource_type, str) or not isinstance(resource_id, str):
            return None
        node = self.policy.resources.get(resource_type)
        if node is None:
            return None
        if resource_type == "Patient":
            owner = _Owner(owner.key, owner.shift, owner.context, self._birth_reference(resource))
        body = self._object(resource, node, owner) or {}
        return {
            "resourceType": resource_type,
            "id": self.pseudonymizer.resource_id(resource_type, resource_id),
            **body,
        }

    def _birth_reference(self, patient: dict[str, Any]) -> date:
        deceased = patient.get("deceasedDateTime")
        day = parse_day(deceased) if isinstance(deceased, str) else None
        return day or self.today

    def _object(self, value: dict[str, Any], node: Node, owner: _Owner) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        element = self._element
        for name, item in value.items():
            spec = node.get(name)
            if spec is None:
                continue
            if isinstance(item, list):
                kept = []
                for entry in item:
                    result = element(entry, spec, owner)
                    if result is not None:
                        kept.append(result)
                if kept:
                    out[name] = kept
            else:
                result = element(item, spec, owner)
                if result is not None:
                    out[name] = result
        return out or None

    def _element(self, value: Any, spec: Node | str, owner: _Owner) -> Any:
        if isinstance(spec, dict):
            return self._object(value, spec, owner) if isinstance(value, dict) else None
        if spec == "keep":
            return value if isinstance(value, (str, int, float, bool)) else None
        if isinstance(value, str):
            if spec == "reference":
                return self.pseudonymizer.reference(value)
            if spec == "date":
                return shift_fhir_date(value, owner.shift)
            if spec == "text":
                return self._text(value, owner)
            if spec == "birthDate":
                return self._birth_date(value, owner)
            if spec == "attachment":
                return self._attachment(value, owner)
            return None
        if isinstance(value, dict):
            if spec == "address":
                return reduce_address(value, self.settings.address_level)
            if spec == "contained":
                return self._contained(value, owner)
        return None

    def _text(self, value: str, owner: _Owner) -> str:
        cache_key = (owner.key, value)
        found = self._text_cache.get(cache_key)
        if found is None:
            shared_key = ("", value)
            found = self._text_cache.get(shared_key)
            if found is not None:
                return found
            if not self.text.depends_on_patient(value, owner.context):
                cache_key = shared_key
            found = self.text.deidentify(value, owner.context)
            self.texts_deidentified += 1
            if len(self._text_cache) >= TEXT_CACHE_SIZE:
                self._text_cache.clear()
            self._text_cache[cache_key] = found
        return found

    def _birth_date(self, value: str, owner: _Owner) -> str | None:
        shifted = shift_fhir_date(value, owner.shift)
        born = parse_day(value)
        if shifted is None or born is None:
            return None
        reference = owner.birth_reference or self.today
        age = age_in_years(born, reference) if len(value) >= 10 else reference.year - born.year
        # The reference year of a death is shifted like the death date; the build day is not a
        # patient's date and stays as it is.
        reference_year = (
            (reference + timedelta(days=owner.shift)).year
            if owner.birth_reference is not None and owner.birth_reference != self.today
            else self.today.year
        )
        return generalize_birth_date(
            shifted, self.settings.birth_date, age, self.settings.age_cap, reference_year
        )

    def _attachment(self, value: str, owner: _Owner) -> str | None:
        try:
            text = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None  # not text: a PDF or an image cannot be checked, so it is not copied
        self.texts_deidentified += 1
        cleaned = self.text.deidentify(text, owner.context)
        return base64.b64encode(cleaned.encode("utf-8")).decode("ascii")

    def _contained(self, value: dict[str, Any], owner: _Owner) -> dict[str, Any] | None:
        resource_type = value.get("resourceType")
        node = self.policy.resources.get(resource_type) if isinstance(resource_type, str) else None
        if node is None:
            return None
        body = self._object(value, node, owner) or {}
        local_id = value.get("id")
        head: dict[str, Any] = {"resourceType": resource_type}
        if isinstance(local_id, str):
            head["id"] = local_id
        return {**head, **body}
