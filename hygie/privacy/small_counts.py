"""Small-count suppression of aggregate results leaving the research zone.

Rule (primary): a count from 1 to ``threshold - 1`` is shown as ``<threshold`` (``<10`` by
default, ``Settings.small_count_threshold``). Zero is shown: it reveals no person.

Rule (complementary): a total published next to its cells must not let anyone compute a
suppressed cell. For every line (a row with its row total, a column with its column total, and
the margins with the grand total), each suppressed cell must keep at least two possible values
given the published total and the other cells' bounds (a suppressed primary cell lies in
``[1, threshold - 1]``, a complementary one in ``[threshold, total]``). While a line breaks this,
the smallest published non-zero cell of that line is suppressed as well (shown as ``*``). A
margin below the threshold is itself a primary cell of the margin line.

Not covered: inference across several lines at once (solving the rows and columns together as a
linear system) can narrow a suppressed value to an interval; the rule guarantees no suppressed
cell is exactly derivable from one line, not that its interval is wide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

COMPLEMENTARY_MARK = "*"


@dataclass(frozen=True)
class Cell:
    """A published count: the value shown and why it is hidden, if it is."""

    value: int
    shown: str
    suppressed: str | None = None
    """None, ``primary`` (below the threshold) or ``complementary`` (hides another cell)."""


@dataclass(frozen=True)
class SuppressedTable:
    """A two-way table of counts with its margins, after suppression."""

    cells: list[list[Cell]]
    row_totals: list[Cell]
    column_totals: list[Cell]
    total: Cell

    def shown(self) -> list[list[str]]:
        """The table as displayed: cells with their row total, then the totals row."""
        rows = [
            [c.shown for c in row] + [t.shown]
            for row, t in zip(self.cells, self.row_totals, strict=True)
        ]
        rows.append([c.shown for c in self.column_totals] + [self.total.shown])
        return rows


def _pinned(values: list[int], state: list[str | None], total: int, threshold: int) -> bool:
    """True when some suppressed cell of the line can be computed from the published figures."""
    hidden = [i for i, s in enumerate(state) if s is not None]
    if not hidden:
        return False
    rest = total - sum(v for v, s in zip(values, state, strict=True) if s is None)
    low = {i: 1 if state[i] == "primary" else threshold for i in hidden}
    high = {i: threshold - 1 if state[i] == "primary" else total for i in hidden}
    for i in hidden:
        others_low = sum(low[j] for j in hidden if j != i)
        others_high = sum(high[j] for j in hidden if j != i)
        lowest = max(low[i], rest - others_high)
        highest = min(high[i], rest - others_low)
        if lowest >= highest:
            return True
    return False


def _protect_line(values: list[int], state: list[str | None], total: int, threshold: int) -> bool:
    """Add complementary suppressions to one line; returns True when it changed something."""
    changed = False
    while _pinned(values, state, total, threshold):
        candidates = [i for i, s in enumerate(state) if s is None and values[i] > 0]
        if not candidates:
            break
        smallest = min(candidates, key=lambda i: values[i])
        state[smallest] = "complementary"
        changed = True
    return changed


def suppress_table(table: Sequence[Sequence[int]], threshold: int = 10) -> SuppressedTable:
    """Suppress a two-way table of counts and its margins (row, column and grand totals)."""
    rows = [list(row) for row in table]
    width = len(rows[0]) if rows else 0
    if any(len(row) != width for row in rows) or any(v < 0 for row in rows for v in row):
        raise ValueError("a table of counts has rows of equal length and no negative count")
    row_totals = [sum(row) for row in rows]
    column_totals = [sum(row[j] for row in rows) for j in range(width)]
    total = sum(row_totals)

    def primary(value: int) -> str | None:
        return "primary" if 0 < value < threshold else None

    state = [[primary(v) for v in row] for row in rows]
    row_state = [primary(v) for v in row_totals]
    column_state = [primary(v) for v in column_totals]
    total_state = primary(total)
    changed = True
    while changed:
        changed = False
        for i, row in enumerate(rows):
            if row_state[i] is None:
                changed |= _protect_line(row, state[i], row_totals[i], threshold)
        for j in range(width):
            column = [row[j] for row in rows]
            column_cells = [state[i][j] for i in range(len(rows))]
            if column_state[j] is None and _protect_line(
                column, column_cells, column_totals[j], threshold
            ):
                for i in range(len(rows)):
                    state[i][j] = column_cells[i]
                changed = True
        if total_state is None:
            changed |= _protect_line(row_totals, row_state, total, threshold)
            changed |= _protect_line(column_totals, column_state, total, threshold)

    def cell(value: int, why: str | None) -> Cell:
        if why == "primary":
            return Cell(value, f"<{threshold}", why)
        if why == "complementary":
            return Cell(value, COMPLEMENTARY_MARK, why)
        return Cell(value, str(value))

    return SuppressedTable(
        cells=[
            [cell(v, s) for v, s in zip(row, st, strict=True)]
            for row, st in zip(rows, state, strict=True)
        ],
        row_totals=[cell(v, s) for v, s in zip(row_totals, row_state, strict=True)],
        column_totals=[cell(v, s) for v, s in zip(column_totals, column_state, strict=True)],
        total=cell(total, total_state),
    )


def suppress_counts(counts: Mapping[str, int], threshold: int = 10) -> dict[str, Cell]:
    """Suppress one list of counts published with its total (key ``"total"`` in the result).

    >>> shown = {k: c.shown for k, c in suppress_counts({"a": 3, "b": 25, "c": 40}).items()}
    >>> shown
    {'a': '<10', 'b': '*', 'c': '40', 'total': '68'}
    """
    names = list(counts)
    result = suppress_table([[counts[name] for name in names]], threshold)
    cells = dict(zip(names, result.cells[0], strict=True))
    cells["total"] = result.row_totals[0]
    return cells


def suppress_mapped_counts(mapped: int, records: int, threshold: int = 10) -> tuple[str, str]:
    """``(mapped, records)`` as published: the mapped and unmapped records are the two cells of
    a line whose total is ``records``, so neither can be worked out from the other.

    >>> suppress_mapped_counts(40, 43)
    ('*', '43')
    >>> suppress_mapped_counts(3, 50)
    ('<10', '50')
    """
    line = suppress_table([[mapped, records - mapped]], threshold)
    return line.cells[0][0].shown, line.row_totals[0].shown
