from __future__ import annotations

from hygie.cli import main

main()
