"""The CapabilityStatement: made from the same data as the server's behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import hygie
from hygie.api.search import CONTROL_PARAMETERS
from hygie.api.search_parameters import parameters_of, search_parameters
from hygie.fhir.validation import r4_resource_types

INTERACTIONS = (
    "read",
    "vread",
    "update",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"


def capability_statement(base_url: str, token_url: str, zone: str) -> dict[str, Any]:
    """What this server supports, exactly."""
    table = search_parameters()
    resources = []
    for resource_type in sorted(r4_resource_types()):
        parameters = parameters_of(resource_type)
        includes = sorted(
            f"{resource_type}:{n}" for n, p in parameters.items() if p.type == "reference"
        )
        revincludes = sorted(
            f"{source}:{n}"
            for source, specs in table.items()
            if source != "common"
            for n, p in specs.items()
            if p.type == "reference" and resource_type in p.targets
        )
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [{"code": code} for code in INTERACTIONS],
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "referencePolicy": ["literal"],
            "searchParam": [
                {"name": name, "type": parameter.fhir_type}
                for name, parameter in sorted(parameters.items())
            ],
        }
        if includes:
            entry["searchInclude"] = includes
        if revincludes:
            entry["searchRevInclude"] = revincludes
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": datetime.now(UTC).date().isoformat(),
        "kind": "instance",
        "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
        "software": {"name": "Hygie", "version": hygie.__version__},
        "implementation": {"description": f"Hygie FHIR API ({zone} zone)", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Control parameters: "
                + ", ".join(sorted(CONTROL_PARAMETERS))
                + ". Unknown parameters: Prefer: handling=strict gives 400, lenient (default) "
                "ignores them and says so in an OperationOutcome entry.",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [{"url": "token", "valueUri": token_url}],
                        }
                    ],
                    "description": "SMART Backend Services (client_credentials with a signed JWT "
                    "assertion, RS384 or ES384); SMART v2 scopes, v1 accepted.",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "operation": [
                    {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export"},
                    {
                        "name": "patient-export",
                        "definition": f"{BULK_DATA}/OperationDefinition/patient-export",
                    },
                    {
                        "name": "group-export",
                        "definition": f"{BULK_DATA}/OperationDefinition/group-export",
                    },
                ],
            }
        ],
    }
