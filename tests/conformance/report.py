"""Run the conformance suites and write their pass rates as Markdown (docs/conformance.md).

Usage, from the repository root::

    .venv/bin/python tests/conformance/report.py            # print the report
    .venv/bin/python tests/conformance/report.py --write    # also write docs/conformance.md
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import fhirpath_suite
import sql_on_fhir_suite

REPORT = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
COMMAND = ".venv/bin/python tests/conformance/report.py --write"


def _passes(run: object, case: object) -> bool:
    try:
        run(case)  # type: ignore[operator]
    except Exception:
        return False
    return True


def sql_on_fhir_section() -> list[str]:
    """The SQL on FHIR v2 table: pass/total per suite file."""
    per_file: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in sql_on_fhir_suite.load_cases():
        counts = per_file[case.file]
        counts[1] += 1
        counts[0] += _passes(sql_on_fhir_suite.run_case, case)
    passed = sum(c[0] for c in per_file.values())
    total = sum(c[1] for c in per_file.values())
    lines = [
        "## SQL on FHIR v2 (views compiled to SQL, run on DuckDB)",
        "",
        f"**{passed} / {total}** cases pass.",
        "",
        "| suite file | passed | total |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name}.json | {c[0]} | {c[1]} |" for name, c in sorted(per_file.items())]
    return lines


def fhirpath_section() -> list[str]:
    """The FHIRPath table: overall figures, then pass/total per suite group."""
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for case in fhirpath_suite.load_cases():
        counts = groups[case.group]
        offset = 2 if case.invalid else 0
        counts[offset + 1] += 1
        counts[offset] += _passes(fhirpath_suite.run_case, case)
    valid = (sum(c[0] for c in groups.values()), sum(c[1] for c in groups.values()))
    invalid = (sum(c[2] for c in groups.values()), sum(c[3] for c in groups.values()))
    everything = (valid[0] + invalid[0], valid[1] + invalid[1])
    lines = [
        "## FHIRPath (R4 suite, `hygie.fhir.fhirpath.evaluate`)",
        "",
        "| tests | passed | total | rate |",
        "| --- | ---: | ---: | ---: |",
        f"| valid expressions (expected output) | {valid[0]} | {valid[1]} | "
        f"{100 * valid[0] / valid[1]:.1f} % |",
        f"| invalid expressions (must raise) | {invalid[0]} | {invalid[1]} | "
        f"{100 * invalid[0] / invalid[1]:.1f} % |",
        f"| all | {everything[0]} | {everything[1]} | "
        f"{100 * everything[0] / everything[1]:.1f} % |",
        "",
        "Groups with at least one failure (every other group passes in full):",
        "",
        "| group | passed | total |",
        "| --- | ---: | ---: |",
    ]
    for name, c in groups.items():
        if c[0] + c[2] < c[1] + c[3]:
            lines.append(f"| {name} | {c[0] + c[2]} | {c[1] + c[3]} |")
    full = sum(1 for c in groups.values() if c[0] + c[2] == c[1] + c[3])
    lines += ["", f"{full} of {len(groups)} groups pass in full."]
    return lines


def report() -> str:
    """The whole report as Markdown."""
    lines = [
        "# Conformance",
        "",
        f"Generated on {date.today().isoformat()} by `{COMMAND}`.",
        "The same cases run under pytest: `.venv/bin/python -m pytest tests/conformance`",
        "(known failures are strict xfails, listed with their reason in",
        "`tests/conformance/fhirpath_known_failures.py`).",
        "",
        *sql_on_fhir_section(),
        "",
        *fhirpath_section(),
        "",
        *NOTES,
    ]
    return "\n".join(lines) + "\n"


NOTES = [
    "## Notes on the suites",
    "",
    "- SQL on FHIR: the 22 files of `tests/data/sql-on-fhir-v2/tests` (FHIR/sql-on-fhir-v2,",
    "  commit 49fc1ad). Rows are compared order-insensitively; decimals to 9 places. Every",
    "  view's SQL also transpiles to Spark SQL (`hygie.warehouse.engine.transpile`).",
    "- FHIRPath: `tests-fhir-r4.xml` holds 937 `<test>` elements, two of them inside XML",
    "  comments: 935 run. Inputs are the JSON versions of the XML examples (`input-json/`);",
    "  the observation gets the `patient-age` extension its XML carries, and",
    "  `parameters-example-types.xml` (primitive parameters only) is converted by the test.",
    "- FHIRPath dateTime outputs with a time zone are compared as instants at the same",
    "  precision: fhirpathpy returns computed dateTimes in UTC.",
    "- Hygie adds to fhirpathpy: `lowBoundary`, `highBoundary`, `precision`, `hasValue`,",
    "  `matchesFull`, `escape`, `unescape`, `sort`, `comparable` (common UCUM units),",
    "  `conformsTo` (base profiles), corrected `toString`, `round`, `startsWith`, `indexOf`,",
    "  `replace`, `replaceMatches`, and the `%sct`, `%loinc`, `%vs-*`, `%ext-*` variables.",
]


def main() -> None:
    """Print the report; with ``--write``, also write it to docs/conformance.md."""
    text = report()
    print(text)
    if "--write" in sys.argv[1:]:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
