"""The error a ViewDefinition raises when it cannot be compiled or run."""

from __future__ import annotations

from hygie.errors import InputError


class ViewDefinitionError(InputError):
    """A ViewDefinition is invalid: bad structure, bad FHIRPath, or a rule of the spec broken.

    The message names the element at fault (``select[0].column[1].path`` and so on).
    """
