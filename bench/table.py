"""The one table ``make bench`` prints: a ratio per measure, its target, the absolute figures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    measure: str
    service: str
    reference: str
    ratio: float | None
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        met = {True: "met", False: "NOT MET", None: ""}[self.met]
        return [self.measure, self.service, self.reference, ratio, self.target, met]


HEADER = ["measure", "service", "reference", "ratio", "target", ""]


def render(rows: list[Row], title: str) -> str:
    table = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    right = {1, 2, 3}

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "-" * len(line(HEADER))
    return "\n".join([title, rule, line(HEADER), rule, *(line(c) for c in table[1:]), rule])
