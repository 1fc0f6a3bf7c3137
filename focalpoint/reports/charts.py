"""Bar charts for the reports: one description, drawn as SVG for the pages and as PNG for the DOCX.

A :class:`Chart` says what to show (categories, series of values, grouped or stacked, vertical or
horizontal). :func:`svg_layout` turns it into shapes with coordinates that ``templates/reports/_chart.html``
writes out as inline SVG: presentation attributes only (the Content-Security-Policy forbids style
attributes and scripts), a ``<title>`` and ``<desc>`` for the chart and a ``<title>`` per bar, no web font,
no script, nothing fetched. :func:`png` draws the same chart with matplotlib (Agg backend, no display),
because Word cannot show SVG that python-docx embeds.

Colours are the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies), with
grey kept for "not stated".
"""
from __future__ import annotations

import io
import math
from decimal import ROUND_HALF_UP, Decimal
from dataclasses import dataclass, field

#: Okabe–Ito, then a few more distinct colours for long category lists.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288",
           "#882255", "#44AA99", "#999933", "#AA4499")
GREY = "#ADB5BD"
TEXT = "#212529"
AXIS = "#6C757D"
GRID = "#DEE2E6"

GROUPED, STACKED, PERCENT = "grouped", "stacked", "percent"
VERTICAL, HORIZONTAL = "vertical", "horizontal"


@dataclass
class Series:
    key: str
    label: str
    values: list[float]
    color: str = ""


@dataclass
class Chart:
    """What to draw. ``values`` of each series follow ``categories``; ``mode`` is grouped (bars side by
    side), stacked (on top of each other) or percent (stacked, each category scaled to 100 %)."""

    id: str
    title: str
    categories: list[str]
    series: list[Series]
    mode: str = GROUPED
    orientation: str = VERTICAL
    #: Said after the values in the tooltips and the description ("days").
    unit: str = ""
    #: One or two sentences for ``<desc>`` (what the chart shows; the table below holds the numbers).
    description: str = ""
    #: Decimals of the values in tooltips (counts: 0).
    decimals: int = 0

    def __post_init__(self) -> None:
        for index, s in enumerate(self.series):
            if not s.color:
                s.color = PALETTE[index % len(PALETTE)]

    @property
    def is_empty(self) -> bool:
        return not self.categories or not any(v for s in self.series for v in s.values)

    def fmt(self, value: float) -> str:
        text = f"{round_half_up(value, self.decimals):,.{self.decimals}f}" if self.decimals \
            else f"{int(round_half_up(value, 0)):,}"
        return f"{text} {self.unit}" if self.unit else text

    def category_total(self, index: int) -> float:
        return sum(s.values[index] or 0 for s in self.series)


def round_half_up(value: float, decimals: int) -> float:
    """``value`` rounded half away from zero (1.25 → 1.3), as people round, not as floats do (1.2)."""
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def nice_ticks(maximum: float, count: int = 5, *, integer: bool = True) -> list[float]:
    """Round axis ticks from 0 covering ``maximum``: steps of 1, 2, 2.5 or 5 times a power of ten (whole
    steps for ``integer`` values: counts have no tick at 0.5)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer and step < 1:
        step = 1
    top = math.ceil(maximum / step - 1e-9) * step
    ticks, value = [], 0.0
    while value <= top + step / 1000:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _tick_label(value: float, percent: bool) -> str:
    if percent:
        return f"{int(round(value * 100))}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


# --- SVG layout ----------------------------------------------------------------------------------------------
@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str = ""
    series: str = ""
    category: str = ""
    value: float = 0


@dataclass
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    size: int = 12
    fill: str = TEXT
    full: str = ""


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = GRID


@dataclass
class Layout:
    chart: Chart
    width: int
    height: int
    bars: list[Rect] = field(default_factory=list)
    labels: list[Text] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[tuple[Rect, Text]] = field(default_factory=list)

    @property
    def title_id(self) -> str:
        return f"{self.chart.id}-title"

    @property
    def desc_id(self) -> str:
        return f"{self.chart.id}-desc"


def _legend(chart: Chart, width: int, top: float) -> tuple[list[tuple[Rect, Text]], float]:
    """Legend entries laid out in rows across ``width``; returns them and the height they take."""
    if len(chart.series) < 2:
        return [], 0
    items, x, y = [], 0.0, top
    for s in chart.series:
        label = _truncate(s.label, 40)
        item_w = 18 + 7 * len(label) + 14
        if x and x + item_w > width:
            x, y = 0.0, y + 18
        items.append((Rect(x, y + 2, 11, 11, s.color, title=s.label), Text(x + 16, y + 12, label, full=s.label)))
        x += item_w
    return items, (y - top) + 24


def svg_layout(chart: Chart) -> Layout:
    """Coordinates of every bar, label, grid line and legend entry of ``chart``."""
    if chart.orientation == HORIZONTAL:
        return _horizontal(chart)
    return _vertical(chart)


def _bar_values(chart: Chart, index: int) -> list[tuple[Series, float, float]]:
    """(series, start, length) along the value axis for category ``index``, in axis units."""
    out = []
    if chart.mode == GROUPED:
        return [(s, 0.0, float(s.values[index] or 0)) for s in chart.series]
    total = chart.category_total(index)
    start = 0.0
    for s in chart.series:
        value = float(s.values[index] or 0)
        length = value / total if chart.mode == PERCENT and total else (0.0 if chart.mode == PERCENT else value)
        out.append((s, start, length))
        start += length
    return out


def _ticks(chart: Chart) -> list[float]:
    return nice_ticks(_axis_max(chart), integer=chart.mode != PERCENT and chart.decimals == 0)


def _axis_max(chart: Chart) -> float:
    if chart.mode == PERCENT:
        return 1.0
    if chart.mode == STACKED:
        return max((chart.category_total(i) for i in range(len(chart.categories))), default=0)
    return max((float(v or 0) for s in chart.series for v in s.values), default=0)


def _tooltip(chart: Chart, s: Series, category: str, index: int) -> str:
    value = float(s.values[index] or 0)
    text = f"{category} · {s.label}: {chart.fmt(value)}" if len(chart.series) > 1 else f"{category}: {chart.fmt(value)}"
    if chart.mode == PERCENT:
        total = chart.category_total(index)
        if total:
            text += f" ({int(round(100 * value / total))}%)"
    return text


def _vertical(chart: Chart) -> Layout:
    n, k = len(chart.categories), max(1, len(chart.series))
    band = max(44, k * 16 + 16) if chart.mode == GROUPED else 44
    left, right, plot_h = 52, 12, 200
    plot_w = max(360, n * band)
    width = left + plot_w + right
    legend, legend_h = _legend(chart, width, 0)
    top = legend_h + 8
    bottom = 34
    layout = Layout(chart, width, int(top + plot_h + bottom))
    layout.legend = legend
    ticks = _ticks(chart)
    scale = plot_h / ticks[-1]
    percent = chart.mode == PERCENT
    for t in ticks:
        y = top + plot_h - t * scale
        layout.lines.append(Line(left, y, left + plot_w, y, GRID if t else AXIS))
        layout.labels.append(Text(left - 6, y + 4, _tick_label(t, percent), anchor="end", size=11, fill=AXIS))
    band = plot_w / max(n, 1)
    for i, category in enumerate(chart.categories):
        x0 = left + i * band
        label = _truncate(category, max(4, int(band / 7)))
        layout.labels.append(Text(x0 + band / 2, top + plot_h + 16, label, anchor="middle", size=11, full=category))
        if chart.mode == GROUPED:
            bar_w = min(28, (band - 12) / k)
            start_x = x0 + (band - bar_w * k) / 2
            for j, (s, start, length) in enumerate(_bar_values(chart, i)):
                h = length * scale
                layout.bars.append(Rect(round(start_x + j * bar_w, 1), round(top + plot_h - h, 1), round(bar_w - 2, 1),
                                        round(h, 1), s.color, _tooltip(chart, s, category, i), s.key, category,
                                        float(s.values[i] or 0)))
        else:
            bar_w = min(32, band - 12)
            for s, start, length in _bar_values(chart, i):
                h = length * scale
                y = top + plot_h - (start + length) * scale
                layout.bars.append(Rect(round(x0 + (band - bar_w) / 2, 1), round(y, 1), round(bar_w, 1), round(h, 1),
                                        s.color, _tooltip(chart, s, category, i), s.key, category,
                                        float(s.values[i] or 0)))
    return layout


def _horizontal(chart: Chart) -> Layout:
    n, k = len(chart.categories), max(1, len(chart.series))
    band = (k * 13 + 10) if chart.mode == GROUPED else 26
    label_w, plot_w, right = 200, 380, 64
    width = label_w + plot_w + right
    legend, legend_h = _legend(chart, width, 0)
    top = legend_h + 6
    plot_h = n * band
    layout = Layout(chart, width, int(top + plot_h + 26))
    layout.legend = legend
    ticks = _ticks(chart)
    scale = plot_w / ticks[-1]
    percent = chart.mode == PERCENT
    for t in ticks:
        x = label_w + t * scale
        layout.lines.append(Line(x, top, x, top + plot_h, GRID if t else AXIS))
        layout.labels.append(Text(x, top + plot_h + 16, _tick_label(t, percent), anchor="middle", size=11, fill=AXIS))
    for i, category in enumerate(chart.categories):
        y0 = top + i * band
        layout.labels.append(Text(label_w - 8, y0 + band / 2 + 4, _truncate(category, 26), anchor="end",
                                  full=category))
        if chart.mode == GROUPED:
            bar_h = 12
            for j, (s, start, length) in enumerate(_bar_values(chart, i)):
                y = y0 + 5 + j * 13
                layout.bars.append(Rect(label_w, round(y, 1), round(length * scale, 1), bar_h, s.color,
                                        _tooltip(chart, s, category, i), s.key, category, float(s.values[i] or 0)))
                layout.labels.append(Text(round(label_w + length * scale + 4, 1), y + 10, chart.fmt(length),
                                          size=10, fill=AXIS))
        else:
            for s, start, length in _bar_values(chart, i):
                layout.bars.append(Rect(round(label_w + start * scale, 1), round(y0 + 4, 1), round(length * scale, 1),
                                        band - 8, s.color, _tooltip(chart, s, category, i), s.key, category,
                                        float(s.values[i] or 0)))
            if chart.mode == STACKED:
                total = chart.category_total(i)
                layout.labels.append(Text(round(label_w + total * scale + 4, 1), y0 + band / 2 + 4, chart.fmt(total),
                                          size=10, fill=AXIS))
    return layout


# --- PNG (for the DOCX) --------------------------------------------------------------------------------------
def png(chart: Chart, *, dpi: int = 150) -> bytes:
    """``chart`` as a PNG image drawn by matplotlib's Agg backend (no display, no pyplot state)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    n, k = len(chart.categories), max(1, len(chart.series))
    horizontal = chart.orientation == HORIZONTAL
    if horizontal:
        size = (6.5, max(1.6, 0.32 * n * (k if chart.mode == GROUPED else 1) + 1.2))
    else:
        size = (6.5, 3.4)
    fig = Figure(figsize=size, dpi=dpi)
    ax = fig.add_subplot()
    positions = list(range(n))
    width = 0.8 / k if chart.mode == GROUPED else 0.6
    for j, s in enumerate(chart.series):
        starts, lengths = [], []
        for i in range(n):
            _s, start, length = _bar_values(chart, i)[j]
            starts.append(start)
            lengths.append(length)
        if chart.mode == GROUPED:
            offsets = [p - 0.4 + width * (j + 0.5) for p in positions]
            if horizontal:
                ax.barh(offsets, lengths, height=width, color=s.color, label=s.label)
            else:
                ax.bar(offsets, lengths, width=width, color=s.color, label=s.label)
        elif horizontal:
            ax.barh(positions, lengths, left=starts, height=width, color=s.color, label=s.label)
        else:
            ax.bar(positions, lengths, bottom=starts, width=width, color=s.color, label=s.label)
    labels = [_truncate(c, 30) for c in chart.categories]
    percent = FuncFormatter(lambda v, _pos: f"{v * 100:.0f}%")
    if horizontal:
        ax.set_yticks(positions, labels, fontsize=8)
        ax.invert_yaxis()
        ax.grid(axis="x", color=GRID)
        if chart.mode == PERCENT:
            ax.xaxis.set_major_formatter(percent)
            ax.set_xlim(0, 1)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=chart.decimals == 0))
    else:
        ax.set_xticks(positions, labels, fontsize=8, rotation=30 if n > 8 else 0,
                      ha="right" if n > 8 else "center")
        ax.grid(axis="y", color=GRID)
        if chart.mode == PERCENT:
            ax.yaxis.set_major_formatter(percent)
            ax.set_ylim(0, 1)
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=chart.decimals == 0))
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if chart.unit:
        (ax.set_xlabel if horizontal else ax.set_ylabel)(chart.unit, fontsize=8)
    ax.set_title(chart.title, fontsize=10, loc="left")
    if len(chart.series) > 1:
        # Beside the plot, so it never covers bars or tick labels (the saved picture grows to fit it).
        ax.legend([_truncate(s.label, 40) for s in chart.series], fontsize=7, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.01, 1), borderaxespad=0)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, bbox_inches="tight")
    return out.getvalue()
