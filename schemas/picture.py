"""Pictures in feedback: a grading report drawn on its network, as HTML or Markdown.

With ``feedback_format`` "html" or "markdown" (GradingOptions) a report carries an SVG of the
problem's network with the grading drawn on it, in the playground's visual language (units
with their z, a and delta; weights as lines), built here as text:

    columns   the inputs x, layers 1 to L (with their activation), and the loss
    a unit    a box with a row for each quantity of its layer that is graded: z, a, δ
              (deltas), ∂b (bias gradients), b' (updated biases), o (outputs)
    a weight  a line from unit j below to unit k above: blue for w > 0, orange for w < 0,
              wider as |w| is larger
    an item   a badge under its layer's title: ✓ passed (green, solid), ✗ failed (red,
              hatched), ○ missing (grey, dashed outline); the loss has its own box
    an entry  ✗ on its unit's row (with its samples, when there are several) or on its
              weight's line (∂W, W'): exactly the entries the report lists as wrong
    mistakes  named under the drawing, one failed item a line

No reference value is drawn: the picture shows where an answer is wrong, not what is right.
The one expected value it can hold is the one the text feedback shows too (the furthest-off
entry's, in that entry's tooltip), and never with show_expected false.

Every string is escaped (html.escape, whose output is also valid XML) wherever it is written:
the student's keys and text reach the warnings and notes, and must never become markup.

Colours are presentation attributes (the light scheme), overridden by a <style> scoped to the
picture's id when the reader prefers dark; where a page strips the <style>, the picture keeps
its own light background. Every status has an icon and a pattern besides its colour.

Large networks are drawn in part: at most MAX_UNITS units of a layer (the first MAX_UNITS - 1
and a box that counts the rest and lists their wrong entries), and at most MAX_LAYERS layers
(the first MAX_LAYERS - 1 and the output layer, with a box for the layers between).

HTML and Markdown both carry the SVG inline, in a <figure> (in Markdown, an HTML block of one
line, which CommonMark and GitHub-flavoured Markdown pass through). Not as a Markdown image of
a data: URI: markdown-it, the commonest renderer, refuses data:image/svg+xml links by design,
and the picture's labels are read only inline. A renderer that strips HTML (github.com) shows
the rest of the report without it. PrairieLearn, whose feedback is text, gets the picture as a
data: URI image, the one picture its results element draws.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from engine import BackpropProblem, WeightLayout
from engine.grading import ItemKey, Quantity
from engine.grading.items import PER_SAMPLE
from engine.types import FloatArray
from schemas.errors import MAX_PROBLEMS
from schemas.gradebook import Drawing, GradedItem, Rendered, Status

FeedbackFormat = Literal["text", "html", "markdown"]

MAX_UNITS = 16
"""Units of a layer drawn; a wider layer shows its first MAX_UNITS - 1 and a box for the rest.
16 is the playground's limit and the worked formulas' (a network worked by hand)."""

MAX_LAYERS = 8
"""Layers drawn; a deeper network shows its first MAX_LAYERS - 1, a box, and its output layer.
8 is the playground's limit and the worked formulas'. With MAX_UNITS and MAX_SKIPPED it bounds
the picture: 0.56 MB with every item wrong (0.75 MB as a data: URI), inside PrairieLearn's 1 MB
results."""

MAX_SKIPPED = 12
"""Items of the layers not drawn named in their box (the wrong ones, in answer order); the
others are counted, and the report lists them."""

MAX_DRAWN_BATCH_BYTES = 192 * 2**20
"""Drawn reports in one /v1/grade/batch answer, at most, each counted at its largest (every item
wrong, ``largest_report``). A batch holds its reports until it answers, and the answer is as
large again: 5,000 drawn reports of a 4-8-8-3 problem made a 284 MiB answer and took 1.1 GiB,
more than a worker's budget (docs/deployment.md); 96 MiB keeps a batch near a text batch of
5,000 (docs/performance.md)."""

ROWS: tuple[Quantity, ...] = (
    "pre_activations",
    "activations",
    "deltas",
    "bias_gradients",
    "updated_biases",
)
"""The per-unit quantities of a layer, in the order of a unit's rows (outputs come last)."""

EDGES: dict[Quantity, float] = {"weight_gradients": 0.3, "updated_weights": 0.7}
"""The per-weight quantities, and where along a weight's line their mark sits (about: the
marks of lines into different units are staggered, so that they do not pile up)."""

SYMBOLS: dict[Quantity, str] = {
    "loss": "L",
    "outputs": "o",
    "pre_activations": "z",
    "activations": "a",
    "deltas": "δ",
    "weight_gradients": "∂W",
    "bias_gradients": "∂b",
    "updated_weights": "W'",
    "updated_biases": "b'",
}

ICONS: dict[Status, str] = {"passed": "✓", "failed": "✗", "missing": "○"}

LEGEND = (
    "✓ right · ✗ wrong: on a unit's row (z, a, δ, ∂b, b', o) or on a weight's line (∂W, W') "
    "· ○ missing · weights: blue w > 0, orange w < 0, wider for larger |w|"
)


# What is drawn ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkView:
    """What the picture needs of a problem.

    widths : n_0 (inputs), n_1, ..., n_L
    weights : per layer, ndarray of shape (n_(l-1), n_l) whatever the problem's layout
    layout : the problem's, in which the report gives a weight entry's index
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    weights: tuple[FloatArray, ...]
    layout: WeightLayout
    n_samples: int

    @classmethod
    def of(cls, problem: BackpropProblem) -> NetworkView:
        network = problem.network
        return cls(
            widths=tuple(network.widths),
            activations=tuple(layer.activation.name for layer in network.layers),
            weights=tuple(network.layout.as_in_out(layer.weights) for layer in network.layers),
            layout=network.layout,
            n_samples=problem.n_samples,
        )


Diagnosis = tuple[tuple[str, str], ...]
"""The mistakes of one diagnosis, each (id, description)."""


@dataclass(frozen=True)
class Marks:
    """One graded item as the picture shows it.

    wrong : the entries the report lists as wrong (its wrong_entries), indices into the item's
        array: (sample, unit) or (unit,) for a flat sample, (unit,), (j, k) of a weight in the
        problem's layout, () for the loss
    unlisted : wrong entries the report does not list (it lists the first 20)
    compared : the entries were compared (not missing, of the right shape, readable)
    shapes : (expected, submitted) when the item has the wrong shape
    worst : (index, expected, submitted) of the furthest-off entry, only with show_expected
    carry : the significant figures to carry, when the entries are right to the digits written
    """

    key: ItemKey
    name: str
    status: Status
    score: float
    max_score: float
    wrong: tuple[tuple[int, ...], ...] = ()
    unlisted: int = 0
    compared: bool = False
    diagnoses: tuple[Diagnosis, ...] = ()
    shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    worst: tuple[tuple[int, ...], float, float] | None = None
    carry: int | None = None
    follow_through: str | None = None
    note: str | None = None


def rendered(
    drawing: Drawing,
    network: NetworkView,
    graded: Sequence[tuple[GradedItem, Marks]],
    *,
    summary: str,
    warnings: Sequence[str] = (),
) -> Rendered:
    """The report drawn in HTML or Markdown: the summary, the picture, the warnings, the items."""
    marks = [m for _, m in graded]
    svg = picture(network, marks, title=f"Your answer on the network: {summary}")
    label = _label(marks, summary)
    uri = data_uri(svg)
    if drawing == "html":
        items = [_item_html(item) for item, _ in graded]
        overview = _overview_html(summary, svg, warnings)
        body = "".join(
            f"<tr><td>{_e(ICONS[m.status])} {_e(item.name)}</td>"
            f"<td>{item.score:g} / {item.max_score:g}</td><td>{html_item}</td></tr>"
            for (item, m), html_item in zip(graded, items, strict=True)
        )
        table = (
            "<table><thead><tr><th>item</th><th>score</th><th>feedback</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )
        report = f'<section class="backprop-feedback">{overview}{table}</section>'
        return Rendered("html", report, overview, items, uri, label)
    items = [_item_markdown(item) for item, _ in graded]
    overview = _overview_markdown(summary, svg, warnings)
    parts = [
        f"**{_md(ICONS[m.status])} {_md(item.name)}** ({item.score:g} / {item.max_score:g})"
        f"\n\n{text}"
        for (item, m), text in zip(graded, items, strict=True)
    ]
    report = "\n\n".join([overview, *parts]) + "\n"
    return Rendered("markdown", report, overview, items, uri, label)


def rendered_message(drawing: Drawing, message: str) -> Rendered:
    """A report with nothing to draw (an answer that could not be read): its message."""
    if drawing == "html":
        text = f"<p>{_e(message)}</p>"
        return Rendered("html", f'<section class="backprop-feedback">{text}</section>', text, [])
    return Rendered("markdown", _md(message) + "\n", _md(message), [])


@lru_cache(maxsize=64)
def largest_report(
    widths: tuple[int, ...],
    n_samples: int,
    single_sample: bool,
    layout: WeightLayout,
    keys: tuple[ItemKey, ...],
) -> int:
    """Bytes a drawn report of a problem of these shapes can take, at most: its picture with
    every item failed and MAX_PROBLEMS (20) entries
    listed wrong, as a data: URI (the largest form, +1/3),
    and 2 KB an item for its feedback (shown twice in a native report) and a mistake's note."""
    weights = tuple(
        np.ones((min(n_in, MAX_UNITS), min(n_out, MAX_UNITS)))
        for n_in, n_out in itertools.pairwise(widths)
    )
    network = NetworkView(widths, ("leaky_relu",) * len(weights), weights, layout, n_samples)
    diagnosis = (("a_mistake", "x" * 120),)
    marks = []
    for key in keys:
        shape = _expected_shape(key, widths, n_samples, single_sample, layout)
        count = math.prod(shape)
        wrong = tuple(itertools.islice(itertools.product(*map(range, shape)), MAX_PROBLEMS))
        marks.append(
            Marks(key, key.name, "failed", 0.0, 1.0, wrong, count - len(wrong), True, (diagnosis,))
        )
    drawn = picture(network, marks, title="x" * 80)
    return len(data_uri(drawn)) + 2048 * (len(keys) + 1)


def _expected_shape(
    key: ItemKey, widths: tuple[int, ...], n_samples: int, single_sample: bool, layout: WeightLayout
) -> tuple[int, ...]:
    """The shape of an item's array in an answer (the grader's reference has it)."""
    if key.quantity == "loss":
        return ()
    n = widths[-1] if key.layer is None else widths[key.layer + 1]
    if key.quantity in PER_SAMPLE:
        return (n,) if single_sample else (n_samples, n)
    if key.quantity in EDGES:
        assert key.layer is not None
        n_in = widths[key.layer]
        return (n_in, n) if layout is WeightLayout.IN_OUT else (n, n_in)
    return (n,)


def data_uri(svg: str) -> str:
    """The SVG as a data: URI, for an <img> (PrairieLearn's images)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


# The SVG ------------------------------------------------------------------------------------------

PAD = 16
COLUMN = 236  # from one column's left edge to the next
BOX_W = 104
HEAD = 20  # a unit box's title line
ROW = 17
GAP = 12  # between boxes of a column
LINE = 15  # a line of text in a note or a summary box
BADGE_W, BADGE_H, BADGES_A_ROW = 50, 18, 3

LIGHT = {
    "bg": "#ffffff",
    "fg": "#1b1f24",
    "muted": "#4f5863",
    "box": "#f6f7f9",
    "border": "#8a939d",
    "positive": "#1f5fa8",
    "negative": "#c2410c",
    "right": "#17692e",
    "right-bg": "#e3f4e8",
    "wrong": "#b3001b",
    "wrong-bg": "#fde8ea",
    "missing": "#5f6b76",
}
DARK = {
    "bg": "#15181c",
    "fg": "#e8ecf0",
    "muted": "#b4bec8",
    "box": "#1f242a",
    "border": "#7d8893",
    "positive": "#6fb0ff",
    "negative": "#ff9a5c",
    "right": "#6fd68a",
    "right-bg": "#17331f",
    "wrong": "#ff7b8a",
    "wrong-bg": "#3a1a20",
    "missing": "#a7b1bb",
}
CLASSES: dict[str, dict[str, str]] = {
    # class: {CSS property: colour name}
    "bg": {"fill": "bg"},
    "fg": {"fill": "fg"},
    "mu": {"fill": "muted"},
    "box": {"fill": "box", "stroke": "border"},
    "ep": {"stroke": "positive"},
    "en": {"stroke": "negative"},
    "ok": {"fill": "right"},
    "bad": {"fill": "wrong"},
    "mi": {"fill": "missing"},
    "okb": {"fill": "right-bg", "stroke": "right"},
    "badb": {"stroke": "wrong"},
    "mib": {"stroke": "missing"},
    "mk": {"fill": "wrong-bg", "stroke": "wrong"},
    "mku": {"fill": "wrong-bg", "stroke": "wrong", "color": "wrong"},
    "wl": {"stroke": "wrong"},
    "ln": {"stroke": "border"},
    "hb": {"fill": "wrong-bg"},
    "hl": {"stroke": "wrong"},
}


@dataclass
class _Column:
    """One column of the drawing: a layer (0 for the inputs), the layers not drawn, or the loss."""

    kind: Literal["layer", "skipped", "loss"]
    x: float
    layer: int = 0
    units: range = range(0)
    rows: list[Quantity] = field(default_factory=list)
    badges: list[Marks] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)  # the box of what is not drawn: lines
    aside_marks: list[tuple[Marks, list[tuple[int, ...]]]] = field(default_factory=list)
    top: float = 0.0


def picture(network: NetworkView, marks: Sequence[Marks], *, title: str) -> str:
    """The network with every graded item and every listed wrong entry marked, as SVG text."""
    return _Drawing(network, marks, title).svg()


class _Drawing:
    """One picture being laid out: columns, boxes, lines, marks, notes."""

    def __init__(self, network: NetworkView, marks: Sequence[Marks], title: str) -> None:
        self.net = network
        self.marks = list(marks)
        self.title = title
        self.L = len(network.widths) - 1
        self.by_key = {m.key: m for m in self.marks}
        drawn = list(range(1, self.L + 1))
        self.skipped: range = range(0)
        self.skipped_named: set[ItemKey] = set()
        if self.L > MAX_LAYERS:
            self.skipped = range(MAX_LAYERS, self.L)
            drawn = [*range(1, MAX_LAYERS), self.L]
        self.columns: list[_Column] = [self._layer_column(0)]
        for layer in drawn:
            if layer == self.L and self.skipped:
                self.columns.append(self._skipped_column())
            self.columns.append(self._layer_column(layer))
        loss = self.by_key.get(ItemKey("loss"))
        if loss is not None:
            self.columns.append(_Column("loss", 0.0, badges=[loss]))
        for i, column in enumerate(self.columns):
            column.x = PAD + i * COLUMN
        self.layer_columns = {c.layer: c for c in self.columns if c.kind == "layer"}
        self.row_marks: dict[tuple[int, int, Quantity], tuple[Marks, list[tuple[int, ...]]]] = {}
        self.edge_marks: list[tuple[int, int, int, Marks, tuple[int, ...]]] = []
        for m in self.marks:
            self._place(m)

    # Columns --------------------------------------------------------------------------------------

    def _layer_column(self, layer: int) -> _Column:
        n = self.net.widths[layer]
        units = range(n) if n <= MAX_UNITS else range(MAX_UNITS - 1)
        column = _Column("layer", 0.0, layer=layer, units=units)
        if n > len(units):
            column.aside.append(f"units {len(units) + 1} to {n} not drawn")
        if layer == 0:
            return column
        column.rows = [q for q in ROWS if ItemKey(q, layer - 1) in self.by_key]
        column.badges = [m for m in self.marks if m.key.layer == layer - 1]
        if layer == self.L and ItemKey("outputs") in self.by_key:
            column.rows.append("outputs")
            column.badges.append(self.by_key[ItemKey("outputs")])
        return column

    def _skipped_column(self) -> _Column:
        first, last = self.skipped.start, self.skipped.stop - 1
        column = _Column("skipped", 0.0)
        column.aside.append(f"layers {first} to {last} not drawn")
        inside = [
            m for m in self.marks if m.key.layer is not None and m.key.layer + 1 in self.skipped
        ]
        counts = {s: sum(m.status == s for m in inside) for s in ICONS}
        column.aside.append(" · ".join(f"{ICONS[s]} {n}" for s, n in counts.items() if n))
        wrong = [m for m in inside if m.status != "passed"]
        self.skipped_named = {m.key for m in wrong[:MAX_SKIPPED]}
        for m in wrong[:MAX_SKIPPED]:
            if not m.wrong:  # those with wrong entries are listed with them (_place)
                column.aside.append(f"{ICONS[m.status]} {m.name}")
        if len(wrong) > MAX_SKIPPED:
            column.aside.append(f"and {len(wrong) - MAX_SKIPPED} more not right (in the report)")
        return column

    # Where each wrong entry goes ------------------------------------------------------------------

    def _place(self, m: Marks) -> None:
        if m.status == "passed" or not m.wrong:
            return
        q, layer = m.key.quantity, m.key.layer
        if q == "loss":
            return  # the loss box shows it
        l = self.L if layer is None else layer + 1  # noqa: E741 (the textbook's l)
        if l in self.skipped:
            if m.key in self.skipped_named:
                self._aside(self._skipped(), m, list(m.wrong))
            return
        column = self.layer_columns[l]
        if q in EDGES:
            below = self.layer_columns.get(l - 1)
            for index in m.wrong:
                j, k = index if self.net.layout is WeightLayout.IN_OUT else index[::-1]
                if below is not None and j in below.units and k in column.units:
                    self.edge_marks.append((l, j, k, m, index))
                else:
                    self._aside(column, m, [index])
            return
        for index in m.wrong:
            unit = index[-1]
            if unit in column.units:
                place = (l, unit, q)
                self.row_marks.setdefault(place, (m, []))[1].append(index)
            else:
                self._aside(column, m, [index])

    def _skipped(self) -> _Column:
        return next(c for c in self.columns if c.kind == "skipped")

    @staticmethod
    def _aside(column: _Column, m: Marks, entries: list[tuple[int, ...]]) -> None:
        """Wrong entries listed in a column's box of what is not drawn, one line an item."""
        for other, listed in column.aside_marks:
            if other is m:
                listed.extend(entries)
                return
        column.aside_marks.append((m, list(entries)))

    # Geometry -------------------------------------------------------------------------------------

    def _box_height(self, column: _Column) -> float:
        return HEAD + 4 if column.layer == 0 else HEAD + len(column.rows) * ROW + 6

    def _aside_height(self, column: _Column) -> float:
        lines = len(column.aside) + len(column.aside_marks)
        return 0.0 if lines == 0 else 8 + lines * LINE + 6

    def _slot(self, column: _Column) -> float:
        """The height a unit's box takes in its column: the inputs' small boxes are spaced as
        layer 1's, so that the lines leaving them, and their marks, spread out."""
        above = self.layer_columns.get(1) if column.layer == 0 else None
        own = self._box_height(column)
        return own if above is None else max(own, self._box_height(above))

    def _column_height(self, column: _Column) -> float:
        if column.kind == "loss":
            return HEAD + ROW + 6
        if column.kind == "skipped":
            return self._aside_height(column)
        height = len(column.units) * (self._slot(column) + GAP) - GAP
        aside = self._aside_height(column)
        return height + (GAP + aside if aside else 0.0)

    def _unit_top(self, column: _Column, unit: int) -> float:
        slot = self._slot(column)
        offset = (slot - self._box_height(column)) / 2
        return column.top + column.units.index(unit) * (slot + GAP) + offset

    def _unit_centre(self, column: _Column, unit: int) -> float:
        return self._unit_top(column, unit) + self._box_height(column) / 2

    # Drawing --------------------------------------------------------------------------------------

    def svg(self) -> str:
        badge_rows = max((-(-len(c.badges) // BADGES_A_ROW) for c in self.columns), default=0)
        header = PAD + 36 + badge_rows * (BADGE_H + 4) + 12
        tallest = max(self._column_height(c) for c in self.columns)
        for column in self.columns:
            column.top = header + (tallest - self._column_height(column)) / 2
        width = max(self.columns[-1].x + COLUMN, 640)
        notes = self._notes(width)
        notes_top = header + tallest + 28
        legend = textwrap.wrap(LEGEND, int((width - 2 * PAD) / 5.8))
        height = notes_top + (len(notes) + len(legend)) * LINE + 4 + PAD

        parts: list[str] = []
        parts.append(_rect(0, 0, width, height, "bg"))
        parts += self._edges()
        for column in self.columns:
            parts += self._header(column)
            parts += self._boxes(column)
        parts += self._edge_mark_elements()
        for i, line in enumerate(notes):
            parts.append(_text(PAD, notes_top + i * LINE, line, "bad"))
        for i, line in enumerate(legend):
            parts.append(_text(PAD, notes_top + (len(notes) + i) * LINE + 4, line, "mu", size=11))

        body = "".join(parts)
        pid = "bp-" + hashlib.sha256((self.title + body).encode()).hexdigest()[:12]
        desc = self._description()
        return (
            (  # ID- is this picture's id: what refers to its pattern and shapes
                f'<svg xmlns="http://www.w3.org/2000/svg" id="{pid}" role="img" '
                f'aria-labelledby="{pid}-title {pid}-desc" viewBox="0 0 {_n(width)} {_n(height)}" '
                f'width="{_n(width)}" height="{_n(height)}" font-family="system-ui, sans-serif" '
                f'font-size="12">'
                f'<title id="{pid}-title">{_e(self.title)}</title>'
                f'<desc id="{pid}-desc">{_e(desc)}</desc>'
                f"<style>{_dark_css(pid)}</style>"
                f"<defs>{_hatch()}{_edge_mark_shapes()}</defs>"
                f"{body}</svg>"
            )
            .replace("#ID-", f"#{pid}-")
            .replace('id="ID-', f'id="{pid}-')
        )

    def _header(self, column: _Column) -> list[str]:
        x = column.x
        if column.kind == "loss":
            heading = "loss"
        elif column.kind == "skipped":
            heading = f"layers {self.skipped.start} to {self.skipped.stop - 1}"
        elif column.layer == 0:
            heading = "inputs x"
        else:
            heading = f"layer {column.layer}" + (" (outputs)" if column.layer == self.L else "")
        parts = [_text(x, PAD + 12, heading, "fg", weight="600")]
        if column.kind == "layer" and column.layer > 0:
            parts.append(_text(x, PAD + 27, self.net.activations[column.layer - 1], "mu", size=11))
        for i, m in enumerate(column.badges):
            bx = x + (i % BADGES_A_ROW) * (BADGE_W + 4)
            by = PAD + 36 + (i // BADGES_A_ROW) * (BADGE_H + 4)
            parts.append(_badge(bx, by, m))
        return parts

    def _boxes(self, column: _Column) -> list[str]:
        if column.kind == "loss":
            return self._loss_box(column)
        parts: list[str] = []
        if column.kind == "layer":
            for unit in column.units:
                parts += self._unit(column, unit)
        aside_top = column.top
        if column.kind == "layer" and column.units:
            last = column.units.index(column.units[-1])
            aside_top = column.top + (last + 1) * (self._slot(column) + GAP)
        if column.aside or column.aside_marks:
            parts += self._aside_box(column, aside_top)
        return parts

    def _unit(self, column: _Column, unit: int) -> list[str]:
        x, top, l = column.x, self._unit_top(column, unit), column.layer  # noqa: E741
        name = f"x{unit + 1}" if l == 0 else f"unit {unit + 1}"
        parts = [
            _rect(x, top, BOX_W, self._box_height(column), "box", rx=6),
            _text(x + 8, top + 14, name, "mu", size=11),
        ]
        for r, q in enumerate(column.rows):
            y = top + HEAD + r * ROW + 12
            parts.append(_text(x + 10, y, SYMBOLS[q], "fg", weight="600"))
            key = ItemKey(q) if q == "outputs" else ItemKey(q, l - 1)
            parts.append(self._row_status(x + 34, y, self.by_key[key], (l, unit, q)))
        return parts

    def _row_status(self, x: float, y: float, m: Marks, place: tuple[int, int, Quantity]) -> str:
        """A unit's row: the wrong entries there, or the item's verdict for it."""
        marked = self.row_marks.get(place)
        if marked is None:
            return self._verdict(x, y, m, f"{m.name}, unit {place[1] + 1}")
        return self._mark(x, y - 12, m, marked[1], self._row_words(m, place[1], marked[1]))

    def _verdict(self, x: float, y: float, m: Marks, where: str) -> str:
        """A place with no wrong entry listed: ✓ right, ○ missing, ✗ the item could not be
        compared (its shape, say), or · when it has more wrong entries than the report lists."""
        if m.status == "missing":  # the item's badge says it: no tooltip on every row
            return _text(x, y, "○", "mi")
        if m.status == "passed" or (m.compared and not m.unlisted):
            return _text(x, y, "✓", "ok")
        if not m.compared:
            return _text(x, y, "✗", "bad", label=f"{where}: {self._uncompared(m)}")
        return _text(x, y, "·", "mu", label=f"{where}: more wrong entries than the report lists")

    def _row_words(self, m: Marks, unit: int, entries: list[tuple[int, ...]]) -> tuple[str, str]:
        """(the mark's text, its tooltip) for wrong entries on one unit's row."""
        per_sample = m.key.quantity in PER_SAMPLE and self.net.n_samples > 1
        samples = sorted(index[0] + 1 for index in entries) if per_sample else []
        text = "✗"
        if 0 < len(samples) <= 3:
            text += " s" + ",".join(map(str, samples))
        elif samples:
            text += f" s{samples[0]},{samples[1]},…"
        where = f"unit {unit + 1}"
        if samples:
            where += f", sample{'s' if len(samples) > 1 else ''} {', '.join(map(str, samples))}"
        return text, f"{m.name}, {where}: wrong{self._worst(m, entries)}"

    def _worst(self, m: Marks, entries: Iterable[tuple[int, ...]]) -> str:
        if m.worst is None or m.worst[0] not in set(entries):
            return ""
        _, expected, submitted = m.worst
        return f" (the furthest off: expected {expected:.6g}, the answer has {submitted:.6g})"

    def _mark(
        self,
        x: float,
        y: float,
        m: Marks,
        entries: Sequence[tuple[int, ...]],
        words: tuple[str, str],
    ) -> str:
        """A wrong-entry mark: what the tests and a browser read (data-item, data-entries).
        Its <title> is its tooltip and its accessible name (SVG-AAM), said once: a mark is
        the bulk of a large picture."""
        text, tooltip = words
        size, height = 12, 15
        data = json.dumps([list(index) for index in entries], separators=(",", ":"))
        return (
            f'<g class="wrong-entry" data-item="{_e(m.key.id)}" data-entries="{_e(data)}">'
            f"<title>{_e(tooltip)}</title>"
            f"{_rect(x - 3, y, 6 + size * 0.7 * len(text), height, 'mk', rx=3)}"
            f"{_text(x, y + height - 3.5, text, 'bad', size=size, weight='700')}</g>"
        )

    def _loss_box(self, column: _Column) -> list[str]:
        m = column.badges[0]
        x, top = column.x, column.top
        y = top + HEAD + 12
        parts = [
            _rect(x, top, BOX_W, HEAD + ROW + 6, "box", rx=6),
            _text(x + 8, top + 14, "loss", "mu", size=11),
            _text(x + 10, y, "L", "fg", weight="600"),
        ]
        if m.wrong:
            words = ("✗", f"loss: wrong{self._worst(m, m.wrong)}")
            parts.append(self._mark(x + 34, y - 12, m, list(m.wrong), words))
        else:
            parts.append(self._verdict(x + 34, y, m, "loss"))
        return parts

    def _aside_box(self, column: _Column, top: float) -> list[str]:
        x = column.x
        parts = [_rect(x, top, COLUMN - 24, self._aside_height(column), "box", rx=6, dashed=True)]
        y = top + 8 + 11
        for line in column.aside:
            parts.append(_text(x + 8, y, line, "mu", size=11))
            y += LINE
        for m, entries in column.aside_marks:
            count = len(entries)
            words = f"✗ {m.name}: {count} not drawn"
            tooltip = f"{m.name}: {count} wrong entr{'y' if count == 1 else 'ies'} not drawn"
            parts.append(self._mark(x + 8, y - 11, m, entries, (words, tooltip)))
            y += LINE
        return parts

    def _edges(self) -> list[str]:
        """A line per weight between drawn units of adjacent layers, under everything else:
        grouped by sign, so that each line carries only its ends and its width."""
        lines: dict[str, list[str]] = {"ep": [], "en": [], "ln": []}
        columns = self.columns
        for below, above in itertools.pairwise(columns):
            if below.kind != "layer" or above.kind != "layer" or above.layer != below.layer + 1:
                continue
            W = self.net.weights[above.layer - 1]
            drawn = W[below.units.start : below.units.stop, above.units.start : above.units.stop]
            largest = float(np.abs(drawn).max()) if drawn.size else 0.0
            x1, x2 = below.x + BOX_W, above.x
            for j in below.units:
                y1 = self._unit_centre(below, j)
                for k in above.units:
                    w = float(W[j, k])
                    share = abs(w) / largest if largest > 0 else 0.0
                    y2 = self._unit_centre(above, k)
                    lines["ep" if w >= 0 else "en"].append(
                        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
                        f'stroke-width="{0.6 + 2.4 * share:.1f}"/>'
                    )
        loss = next((c for c in columns if c.kind == "loss"), None)
        last = self.layer_columns[self.L]
        if loss is not None:
            y2 = loss.top + (HEAD + ROW + 6) / 2
            lines["ln"] += (
                f'<line x1="{_n(last.x + BOX_W)}" y1="{_n(self._unit_centre(last, k))}" '
                f'x2="{_n(loss.x)}" y2="{_n(y2)}"/>'
                for k in last.units
            )
        paint = {
            "ep": f'stroke="{LIGHT["positive"]}" stroke-opacity="0.75"',
            "en": f'stroke="{LIGHT["negative"]}" stroke-opacity="0.75"',
            "ln": f'stroke="{LIGHT["border"]}" stroke-width="0.8"',
        }
        return [f'<g class="{c}" {paint[c]}>{"".join(ls)}</g>' for c, ls in lines.items() if ls]

    def _edge_mark_elements(self) -> list[str]:
        """The wrong weight entries: their lines dashed red, and a ✗ ∂W or ✗ W' on each."""
        overlays: list[str] = []
        marks: list[str] = []
        for l, j, k, m, index in self.edge_marks:  # noqa: E741
            below, above = self.layer_columns[l - 1], self.layer_columns[l]
            x1, y1 = below.x + BOX_W, self._unit_centre(below, j)
            x2, y2 = above.x, self._unit_centre(above, k)
            n = len(above.units)
            t = EDGES[m.key.quantity] + 0.16 * ((k + 0.5) / n - 0.5)
            x, y = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
            overlays.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"/>')
            tooltip = f"{m.name}, w^{l}_({j + 1},{k + 1}): wrong{self._worst(m, [index])}"
            data = json.dumps([list(index)], separators=(",", ":"))
            marks.append(
                f'<g class="wrong-entry" data-item="{_e(m.key.id)}" data-entries="{_e(data)}">'
                f'<title>{_e(tooltip)}</title><use href="#ID-{m.key.quantity}" '
                f'x="{_n(x - 10)}" y="{_n(y - 6.5)}"/></g>'
            )
        if not overlays:
            return []
        lines = f'stroke="{LIGHT["wrong"]}" stroke-width="2" stroke-dasharray="5 3"'
        paint = " ".join(f'{prop}="{LIGHT[colour]}"' for prop, colour in CLASSES["mku"].items())
        return [
            f'<g class="wl" {lines}>{"".join(overlays)}</g>',
            f'<g class="mku" {paint}>{"".join(marks)}</g>',
        ]

    # Words ----------------------------------------------------------------------------------------

    def _uncompared(self, m: Marks) -> str:
        if m.shapes is not None:
            expected, submitted = m.shapes
            return f"wrong shape: expected {_shape(expected)}, the answer has {_shape(submitted)}"
        return "could not be graded" + (f" ({m.note})" if m.note else "")

    def _why(self, m: Marks) -> str:
        """Why a failed item failed, in a few words, without any expected value."""
        if len(m.diagnoses) == 1:
            return "; and ".join(f"{_headline(d)} ({i})" for i, d in m.diagnoses[0])
        if m.diagnoses:
            return "fits more than one mistake: " + "; or ".join(
                " and ".join(f"{_headline(d)} ({i})" for i, d in diagnosis)
                for diagnosis in m.diagnoses
            )
        if not m.compared:
            return self._uncompared(m)
        if m.carry is not None:
            return f"right to the digits written: carry {m.carry} significant figures"
        count = len(m.wrong) + m.unlisted
        return f"{count} wrong entr{'y' if count == 1 else 'ies'}; no classic mistake explains it"

    def _notes(self, width: float) -> list[str]:
        chars = int((width - 2 * PAD) / 6.4)
        lines: list[str] = []
        for m in self.marks:
            if m.status == "failed":
                lines += textwrap.wrap(
                    f"✗ {m.name}: {self._why(m)}", chars, subsequent_indent="    "
                )
        return lines

    def _description(self) -> str:
        """The picture in words, for screen readers (the SVG's <desc>)."""
        sentences = []
        for m in self.marks:
            if m.status == "passed":
                sentences.append(f"{m.name}: right.")
            elif m.status == "missing":
                sentences.append(f"{m.name}: missing.")
            else:
                marked = f", {len(m.wrong)} wrong entries marked" if m.wrong else ""
                if m.unlisted:
                    marked += f" ({m.unlisted} more not listed)"
                sentences.append(f"{m.name}: wrong{marked}; {self._why(m)}.")
        return " ".join(sentences)


def _headline(description: str) -> str:
    """A mistake's description up to its explanation: "the sign of the loss derivative is
    flipped"."""
    return description.split(":", 1)[0]


def _shape(shape: tuple[int, ...]) -> str:
    return "a single number" if not shape else f"shape ({', '.join(map(str, shape))})"


def _label(marks: Sequence[Marks], summary: str) -> str:
    """The picture in one line, for an image's label (PrairieLearn) or alt text (Markdown)."""
    failed = [m.name for m in marks if m.status == "failed"]
    wrong = f"; marked wrong: {', '.join(failed)}" if failed else ""
    return f"Your answer on the network: {summary}{wrong}"


# SVG pieces -----------------------------------------------------------------------------------


def _e(text: str) -> str:
    """Text or an attribute value, escaped for HTML and XML alike."""
    return html.escape(text, quote=True)


def _n(value: float) -> str:
    """A coordinate: one decimal at most."""
    return f"{value:.1f}".removesuffix(".0")


def _text(
    x: float,
    y: float,
    text: str,
    cls: str,
    *,
    size: float | None = None,
    weight: str | None = None,
    label: str | None = None,
) -> str:
    colour = LIGHT[CLASSES[cls]["fill"]]
    extra = f' font-size="{size:g}"' if size is not None else ""
    extra += f' font-weight="{weight}"' if weight is not None else ""
    if label is not None:
        extra += f' aria-label="{_e(label)}"'
    tooltip = f"<title>{_e(label)}</title>" if label is not None else ""
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{cls}" fill="{colour}"{extra}>'
        f"{tooltip}{_e(text)}</text>"
    )


def _rect(
    x: float, y: float, w: float, h: float, cls: str, *, rx: float = 0, dashed: bool = False
) -> str:
    paint = CLASSES[cls]
    attributes = "".join(f' {prop}="{LIGHT[colour]}"' for prop, colour in paint.items())
    if "fill" not in paint:
        attributes += ' fill="url(#ID-hatch)"' if cls == "badb" else ' fill="none"'
    if rx:
        attributes += f' rx="{rx:g}"'
    if dashed:
        attributes += ' stroke-dasharray="4 3"'
    return (
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" class="{cls}"'
        f"{attributes}/>"
    )


def _badge(x: float, y: float, m: Marks) -> str:
    """An item's badge: its icon and symbol, hatched red when it failed, dashed when missing."""
    cls = {"passed": "okb", "failed": "badb", "missing": "mib"}[m.status]
    text_cls = {"passed": "ok", "failed": "bad", "missing": "mi"}[m.status]
    icon = ICONS[m.status]
    tooltip = f"{m.name}: {m.status}, {m.score:g} / {m.max_score:g}"
    if m.follow_through is not None:
        tooltip += f" (follow-through: right given your own {m.follow_through})"
    return (
        f'<g class="item {m.status}" data-item="{_e(m.key.id)}" data-status="{m.status}" '
        f'aria-label="{_e(tooltip)}"><title>{_e(tooltip)}</title>'
        f"{_rect(x, y, BADGE_W, BADGE_H, cls, rx=4, dashed=m.status == 'missing')}"
        f"{_text(x + 6, y + 13, f'{icon} {SYMBOLS[m.key.quantity]}', text_cls, weight='700')}</g>"
    )


def _hatch() -> str:
    """The failed badges' pattern: red diagonal lines on a pale red ground."""
    return (
        '<pattern id="ID-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="6" height="6" class="hb" fill="{LIGHT["wrong-bg"]}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" class="hl" stroke="{LIGHT["wrong"]}" '
        'stroke-width="2" stroke-opacity="0.45"/></pattern>'
    )


def _edge_mark_shapes() -> str:
    """A wrong weight's mark, ✗∂W or ✗W', drawn once and placed with <use> on each line. Its
    colours are inherited from the marks' group (class mku), which the dark scheme sets: a
    selector does not reach into a <use>."""
    return "".join(
        f'<g id="ID-{q}"><rect x="-3" y="0" width="{6 + 7 * (len(SYMBOLS[q]) + 1)}" height="13" '
        'rx="3" fill="inherit" stroke="inherit"/><text x="0" y="9.5" fill="currentColor" '
        f'stroke="none" font-size="10" font-weight="700">✗{SYMBOLS[q]}</text></g>'
        for q in EDGES
    )


def _dark_css(pid: str) -> str:
    """The dark scheme, scoped to this picture so that it styles nothing else on a page."""
    rules = "".join(
        f"#{pid} .{cls}{{{';'.join(f'{prop}:{DARK[colour]}' for prop, colour in paint.items())}}}"
        for cls, paint in CLASSES.items()
    )
    return f"@media (prefers-color-scheme: dark){{{rules}}}"


# HTML and Markdown around it ------------------------------------------------------------------


def _item_html(item: GradedItem) -> str:
    """An item's feedback in HTML: a paragraph a line, a worked formula as code."""
    paragraphs = []
    for line in item.feedback.split("\n"):
        head, formula = _formula(line)
        body = f"{_e(head)}<code>{_e(formula)}</code>" if formula else _e(line)
        paragraphs.append(f"<p>{body}</p>")
    return f'<div class="{item.status}">{"".join(paragraphs)}</div>'


def _overview_html(summary: str, svg: str, warnings: Sequence[str]) -> str:
    notes = "".join(f"<li>Note: {_e(w)}</li>" for w in warnings)
    return (
        f"<p><strong>{_e(summary)}</strong></p>"
        f"<figure>{svg}<figcaption>{_e(LEGEND)}</figcaption></figure>"
        + (f"<ul>{notes}</ul>" if notes else "")
    )


def _item_markdown(item: GradedItem) -> str:
    """An item's feedback in Markdown: its lines as they are, in a fenced block (formulas
    keep their * and _), fenced longer than any run of backticks in them."""
    run, longest = 0, 0
    for ch in item.feedback:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{item.feedback}\n{fence}"


def _overview_markdown(summary: str, svg: str, warnings: Sequence[str]) -> str:
    """The summary, the picture as an HTML block (one line: a blank one would end it), the
    legend and the warnings."""
    figure = "<figure>" + svg.replace("\n", "&#10;") + "</figure>"
    parts = [f"**{_md(summary)}**", figure, _md(LEGEND)]
    if warnings:
        parts.append("\n".join(f"- Note: {_md(w)}" for w in warnings))
    return "\n\n".join(parts)


_MARKDOWN_PUNCTUATION = frozenset("\\`*_[]()!|~")


def _md(text: str) -> str:
    """Text for Markdown, never markup: <, > and & as entities, other ASCII punctuation
    backslash-escaped (CommonMark allows it before any), line breaks as spaces."""
    out = []
    for ch in text:
        if ch in "<>&":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;"}[ch])
        elif ch in _MARKDOWN_PUNCTUATION:
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _formula(line: str) -> tuple[str, str]:
    """("Worked formula: ", the formula) for a worked formula's line, else (line, "")."""
    head = "Worked formula: "
    return (head, line.removeprefix(head)) if line.startswith(head) else (line, "")
