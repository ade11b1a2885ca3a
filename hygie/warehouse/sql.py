"""Loading the SQL files shipped with the package.

A file holds named statements, each introduced by a ``-- name: NAME`` line; the comment lines
that follow it (before the SQL) document the statement. Files are plain SQL a data engineer can
read and run by hand.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[A-Za-z0-9_]+)\s*$", re.MULTILINE)


@cache
def load_statements(package: str, filename: str) -> dict[str, str]:
    """Named statements of ``package/filename``, in file order.

    >>> "create_runs" in load_statements("hygie.warehouse", "schema.sql")
    True
    """
    text = resources.files(package).joinpath(filename).read_text("utf-8")
    marks = list(NAME_LINE.finditer(text))
    statements: dict[str, str] = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        body = text[mark.end() : end].strip().rstrip(";").strip()
        statements[mark["name"]] = body
    return statements
