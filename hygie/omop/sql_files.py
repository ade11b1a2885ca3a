"""Reading the shipped ``.sql`` files: statements separated by ``;``."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")


def split_statements(text: str) -> list[str]:
    """Split SQL text on ``;`` at the end of a line, dropping comment-only chunks.

    The shipped files keep ``;`` out of string literals and comments, so a plain split is exact.
    """
    statements = []
    for chunk in text.split(";"):
        code = "\n".join(
            line for line in chunk.splitlines() if not line.strip().startswith("--")
        ).strip()
        if code:
            statements.append(chunk.strip())
    return statements


def read_statements(path: Path) -> list[str]:
    """The statements of one ``.sql`` file, in order."""
    return split_statements(path.read_text(encoding="utf-8"))
