"""OMOP CDM 5.4 tables, generated from the official field-level specification.

The specification is kept unchanged in ``cdm54_field_level.csv`` (see ``README.md`` in this
folder for its source). Every table, column, type, primary key and NOT NULL rule of the
``omop`` schema comes from that file, so that a new CDM release is a data change.

Type mapping (the CDM types are generic; DuckDB types chosen here):

============== ================================================================================
CDM type       DuckDB type
============== ================================================================================
integer        INTEGER, or BIGINT for record identifiers of the clinical tables (see below)
float          DOUBLE (the OHDSI DuckDB DDL uses NUMERIC, which DuckDB reads as DECIMAL(18,3)
               and would round laboratory values)
date           DATE
datetime       TIMESTAMP
varchar(n)     VARCHAR (DuckDB does not enforce lengths)
============== ================================================================================

Record identifiers (``person_id``, ``measurement_id``, ``visit_occurrence_id``, ...) are BIGINT
because Hygie derives them from a hash of the FHIR identity (see :mod:`hygie.omop.ids`); the
CDM 6.0 release notes already moved all primary keys to bigint. Concept identifiers stay INTEGER.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hygie.warehouse.engine import Engine

SPEC_FILE = Path(__file__).with_name("cdm54_field_level.csv")
OMOP_SCHEMA = "omop"

# The tables the CDM 5.4 table-level specification places in the VOCAB schema
# (OHDSI/CommonDataModel, inst/csv/OMOP_CDMv5.4_Table_Level.csv, column "schema").
VOCABULARY_TABLES = (
    "concept",
    "vocabulary",
    "domain",
    "concept_class",
    "concept_relationship",
    "relationship",
    "concept_synonym",
    "concept_ancestor",
    "source_to_concept_map",
    "drug_strength",
)

_RECORD_ID = re.compile(r"_id(_[12])?$")


@dataclass(frozen=True)
class CdmField:
    """One row of the CDM field-level specification."""

    table: str
    name: str
    required: bool
    cdm_type: str
    primary_key: bool
    fk_table: str | None

    @property
    def sql_type(self) -> str:
        """The DuckDB type of this column (see the module docstring for the mapping)."""
        cdm_type = self.cdm_type.lower()
        if cdm_type == "integer":
            return "BIGINT" if self.is_record_id else "INTEGER"
        if cdm_type == "float":
            return "DOUBLE"
        if cdm_type == "date":
            return "DATE"
        if cdm_type == "datetime":
            return "TIMESTAMP"
        if cdm_type.startswith("varchar"):
            return "VARCHAR"
        raise ValueError(f"unknown CDM type {self.cdm_type!r} for {self.table}.{self.name}")

    @property
    def is_record_id(self) -> bool:
        """True for identifiers of CDM records (not of concepts), stored as BIGINT."""
        return (
            self.table not in VOCABULARY_TABLES
            and _RECORD_ID.search(self.name) is not None
            and "concept_id" not in self.name
            and self.fk_table != "CONCEPT"
        )


@cache
def read_cdm_spec() -> tuple[CdmField, ...]:
    """Read the packaged CDM 5.4 field-level specification, in its own order."""
    with SPEC_FILE.open(encoding="utf-8", newline="") as handle:
        return tuple(
            CdmField(
                table=row["cdmTableName"].strip().lower(),
                name=row["cdmFieldName"].strip().lower(),
                required=row["isRequired"].strip().lower() == "yes",
                cdm_type=row["cdmDatatype"].strip(),
                primary_key=row["isPrimaryKey"].strip().lower() == "yes",
                fk_table=None if row["fkTableName"] in ("", "NA") else row["fkTableName"],
            )
            for row in csv.DictReader(handle)
        )


def cdm_tables() -> dict[str, list[CdmField]]:
    """The CDM tables and their fields, in specification order."""
    tables: dict[str, list[CdmField]] = {}
    for field in read_cdm_spec():
        tables.setdefault(field.table, []).append(field)
    return tables


def table_ddl(table: str, fields: list[CdmField], schema: str = OMOP_SCHEMA) -> str:
    """The ``CREATE TABLE IF NOT EXISTS`` statement of one CDM table."""
    lines = [
        f"    {field.name} {field.sql_type}{' NOT NULL' if field.required else ''}"
        for field in fields
    ]
    keys = [field.name for field in fields if field.primary_key]
    if keys:
        lines.append(f"    PRIMARY KEY ({', '.join(keys)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table} (\n{body}\n)"


def cdm_ddl(schema: str = OMOP_SCHEMA) -> list[str]:
    """Every statement that creates the CDM schema and its 39 tables."""
    statements = [f"CREATE SCHEMA IF NOT EXISTS {schema}"]
    statements += [table_ddl(name, fields, schema) for name, fields in cdm_tables().items()]
    return statements


def create_cdm_tables(engine: Engine) -> list[str]:
    """Create the ``omop`` schema, the 39 CDM 5.4 tables and Hygie's side tables.

    Idempotent: existing tables are kept with their rows. Returns the CDM table names.

    >>> from hygie.warehouse.duckdb_engine import DuckDBEngine
    >>> len(create_cdm_tables(DuckDBEngine(None)))
    39
    """
    from hygie.omop.side_tables import create_side_tables

    for statement in cdm_ddl():
        engine.execute(statement)
    create_side_tables(engine)
    return list(cdm_tables())
