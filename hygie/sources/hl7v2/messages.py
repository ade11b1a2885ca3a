"""One HL7 v2 message → FHIR R4 resources, dispatched on MSH-9 (message code ^ trigger event).

The supported messages and the FHIR resources they give are listed in ``docs/connectors.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from hygie.sources.base import ReferenceLookup
from hygie.sources.hl7v2.adt import map_adt
from hygie.sources.hl7v2.context import MessageContext
from hygie.sources.hl7v2.datatypes import Json, MappingError
from hygie.sources.hl7v2.orders import map_order, map_schedule, map_vaccination
from hygie.sources.hl7v2.parser import Message
from hygie.sources.hl7v2.results import map_mdm, map_oru

MessageMap = Callable[[MessageContext, str], None]

MESSAGE_MAPS: dict[str, MessageMap] = {
    "ADT": map_adt,
    "ORU^R01": lambda ctx, _event: map_oru(ctx),
    "ORM^O01": lambda ctx, _event: map_order(ctx),
    "OML^O21": lambda ctx, _event: map_order(ctx),
    "VXU^V04": lambda ctx, _event: map_vaccination(ctx),
    "SIU": map_schedule,
    "MDM": map_mdm,
}
"""Message code (or code^event) → its map; the most specific key wins."""


def map_message(message: Message, lookup: ReferenceLookup, zone: ZoneInfo) -> list[Json]:
    """The FHIR resources of one parsed message (raises MappingError when it cannot be mapped)."""
    header = message.header
    code = header.field(9).comp(1)
    event = header.field(9).comp(2)
    if not event:
        evn = message.first("EVN")
        event = evn.value(1) if evn is not None else ""
    mapper = MESSAGE_MAPS.get(f"{code}^{event}") or MESSAGE_MAPS.get(code)
    if mapper is None:
        raise MappingError(
            "unsupported-message-type",
            f"{header.where(9)}: message type {code}^{event} is not mapped "
            f"(supported: {', '.join(MESSAGE_MAPS)})",
        )
    ctx = MessageContext(message, zone, lookup)
    mapper(ctx, event)
    return ctx.resources
