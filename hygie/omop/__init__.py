"""FHIR R4 -> OMOP CDM 5.4: DDL, vocabulary loading, set-based build, lineage and coverage.

The stage the CLI wires as ``hygie omop init``, ``hygie vocab load DIR``, ``hygie omop build``,
``hygie omop trace TABLE ID`` and ``hygie omop coverage``. See ``docs/omop.md``.
"""

from __future__ import annotations

from hygie.omop.build import OmopBuildSummary, TableBuild, build_omop
from hygie.omop.coverage import CoverageReport, CoverageRow, UnmappedCode, coverage
from hygie.omop.ddl import create_cdm_tables
from hygie.omop.lineage import trace
from hygie.omop.vocabulary import VocabFileLoad, VocabLoadSummary, load_vocabulary

__all__ = [
    "CoverageReport",
    "CoverageRow",
    "OmopBuildSummary",
    "TableBuild",
    "UnmappedCode",
    "VocabFileLoad",
    "VocabLoadSummary",
    "build_omop",
    "coverage",
    "create_cdm_tables",
    "load_vocabulary",
    "trace",
]
