"""Readers and independent re-implementations used by the synth tests."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

R4_RESOURCE_TYPES = frozenset(
    [
        "Account",
        "ActivityDefinition",
        "AdverseEvent",
        "AllergyIntolerance",
        "Appointment",
        "AppointmentResponse",
        "AuditEvent",
        "Basic",
        "Binary",
        "BiologicallyDerivedProduct",
        "BodyStructure",
        "Bundle",
        "CapabilityStatement",
        "CarePlan",
        "CareTeam",
        "CatalogEntry",
        "ChargeItem",
        "ChargeItemDefinition",
        "Claim",
        "ClaimResponse",
        "ClinicalImpression",
        "CodeSystem",
        "Communication",
        "CommunicationRequest",
        "CompartmentDefinition",
        "Composition",
        "ConceptMap",
        "Condition",
        "Consent",
        "Contract",
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "DetectedIssue",
        "Device",
        "DeviceDefinition",
        "DeviceMetric",
        "DeviceRequest",
        "DeviceUseStatement",
        "DiagnosticReport",
        "DocumentManifest",
        "DocumentReference",
        "EffectEvidenceSynthesis",
        "Encounter",
        "Endpoint",
        "EnrollmentRequest",
        "EnrollmentResponse",
        "EpisodeOfCare",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "ExplanationOfBenefit",
        "FamilyMemberHistory",
        "Flag",
        "Goal",
        "GraphDefinition",
        "Group",
        "GuidanceResponse",
        "HealthcareService",
        "ImagingStudy",
        "Immunization",
        "ImmunizationEvaluation",
        "ImmunizationRecommendation",
        "ImplementationGuide",
        "InsurancePlan",
        "Invoice",
        "Library",
        "Linkage",
        "List",
        "Location",
        "Measure",
        "MeasureReport",
        "Media",
        "Medication",
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationKnowledge",
        "MedicationRequest",
        "MedicationStatement",
        "MedicinalProduct",
        "MessageDefinition",
        "MessageHeader",
        "MolecularSequence",
        "NamingSystem",
        "NutritionOrder",
        "Observation",
        "ObservationDefinition",
        "OperationDefinition",
        "OperationOutcome",
        "Organization",
        "OrganizationAffiliation",
        "Parameters",
        "Patient",
        "PaymentNotice",
        "PaymentReconciliation",
        "Person",
        "PlanDefinition",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
        "Questionnaire",
        "QuestionnaireResponse",
        "RelatedPerson",
        "RequestGroup",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "ResearchStudy",
        "ResearchSubject",
        "RiskAssessment",
        "RiskEvidenceSynthesis",
        "Schedule",
        "SearchParameter",
        "ServiceRequest",
        "Slot",
        "Specimen",
        "SpecimenDefinition",
        "StructureDefinition",
        "StructureMap",
        "Subscription",
        "Substance",
        "SupplyDelivery",
        "SupplyRequest",
        "Task",
        "TerminologyCapabilities",
        "TestReport",
        "TestScript",
        "ValueSet",
        "VerificationResult",
        "VisionPrescription",
    ]
)

#: Elements holding the time of an event (planned periods and expiry dates are not events).
EVENT_FIELDS = (
    "effectiveDateTime",
    "issued",
    "onsetDateTime",
    "recordedDate",
    "abatementDateTime",
    "authoredOn",
    "occurrenceDateTime",
    "performedDateTime",
    "whenHandedOver",
    "date",
)


def read_ndjson(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """All resources of an NDJSON output, by type (parts concatenated in order)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(out_dir.glob("*.ndjson")):
        kind = path.name.split(".")[0]
        with path.open("rb") as handle:
            by_type.setdefault(kind, []).extend(orjson.loads(line) for line in handle)
    return by_type


def file_hashes(out_dir: Path) -> dict[str, str]:
    """sha256 of every file of an output directory."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out_dir.iterdir())}


def references(value: Any) -> Iterator[str]:
    """Every ``reference`` string inside a resource."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def event_times(resource: dict[str, Any]) -> Iterator[str]:
    """Event dates/times of a resource, including Encounter.period and attachment.creation."""
    for field in EVENT_FIELDS:
        if field in resource:
            yield resource[field]
    if resource["resourceType"] == "Encounter":
        yield resource["period"]["start"]
        yield resource["period"]["end"]
    for content in resource.get("content", ()):
        yield content["attachment"]["creation"]


def as_date(value: str) -> date:
    """Calendar date of a FHIR date/dateTime/instant (local date as written)."""
    return date.fromisoformat(value[:10])


def as_datetime(value: str) -> datetime:
    """Naive local datetime of a FHIR dateTime (midnight for a plain date)."""
    if len(value) == 10:
        return datetime.fromisoformat(value)
    return datetime.fromisoformat(value[:19])


def patient_of(resource: dict[str, Any]) -> str | None:
    """Patient id a resource belongs to."""
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and ref.get("reference", "").startswith("Patient/"):
            return str(ref["reference"].split("/", 1)[1])
    return None


def ckd_epi_2021(creatinine_umol: float, age: int, female: bool) -> float:
    """CKD-EPI 2021 (Inker, NEJM 2021), written again here independently of the generator."""
    scr = creatinine_umol / 88.4
    if female:
        kappa, alpha, factor = 0.7, -0.241, 1.012
    else:
        kappa, alpha, factor = 0.9, -0.302, 1.0
    return 142 * min(scr / kappa, 1) ** alpha * max(scr / kappa, 1) ** -1.2 * 0.9938**age * factor


def age_on(birth: date, day: date) -> int:
    """Whole years between ``birth`` and ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def note_text(document: dict[str, Any]) -> str:
    """Decoded UTF-8 text of a DocumentReference."""
    return base64.b64decode(document["content"][0]["attachment"]["data"]).decode("utf-8")
