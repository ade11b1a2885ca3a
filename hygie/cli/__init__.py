"""The ``hygie`` command. Thin by design: it parses options, calls the stages, prints results.

One module per group of commands, registered explicitly below.
"""

from __future__ import annotations

from hygie.cli import api, core, listen, omop, privacy, views
from hygie.cli.app import app, main

__all__ = ["api", "app", "core", "listen", "main", "omop", "privacy", "views"]
