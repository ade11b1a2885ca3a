"""Reading the shipped ``.sql`` files: statements separated by ``;``."""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")


def split_statements(text: str) -> list[str]:
    """Split SQL text on ``;``, skipping those inside ``--`` comments and quoted literals.

    Chunks holding only comments are dropped; each statement keeps its leading comments.
    """
    statements: list[str] = []
    start = 0
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif text.startswith("--", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif char == ";":
            statements.append(text[start:index])
            start = index + 1
        index += 1
    statements.append(text[start:])
    return [chunk.strip() for chunk in statements if _has_code(chunk)]


def _has_code(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def read_statements(path: Path) -> list[str]:
    """The statements of one ``.sql`` file, in order."""
    return split_statements(path.read_text(encoding="utf-8"))
