"""HL7 v2: a parser, maps to FHIR R4 (v2-to-FHIR IG), a file source and an MLLP listener."""

from __future__ import annotations

from hygie.sources.hl7v2.parser import Message, MessageError, parse_message
from hygie.sources.hl7v2.source import Hl7v2Source, interpret_message

__all__ = ["Hl7v2Source", "Message", "MessageError", "interpret_message", "parse_message"]
