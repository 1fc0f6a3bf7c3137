"""The chart layout (pure): bar geometry, axis ticks, legend; the SVG written from it; the PNG for Word."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from focalpoint.reports.charts import (GREY, HORIZONTAL, PERCENT, STACKED, Chart, Series, nice_ticks, png,
                                       round_half_up, svg_layout)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("maximum, ticks", [
    (0, [0, 1]), (1, [0, 1]), (2, [0, 1, 2]), (4, [0, 1, 2, 3, 4]), (5, [0, 1, 2, 3, 4, 5]),
    (7, [0, 2, 4, 6, 8]), (48, [0, 10, 20, 30, 40, 50]), (101, [0, 25, 50, 75, 100, 125]),
    (12_345, [0, 2500, 5000, 7500, 10000, 12500]),
])
def test_nice_ticks_for_counts(maximum, ticks):
    assert nice_ticks(maximum) == ticks


def test_nice_ticks_for_shares_and_days():
    assert nice_ticks(1.0, integer=False) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(5.5, integer=False) == [0, 2, 4, 6]
    assert nice_ticks(0.3, integer=False) == [0, 0.1, 0.2, 0.3]


def test_round_half_up():
    assert [round_half_up(v, 1) for v in (1.25, 1.35, 4.15, 2.0, 0.04)] == [1.3, 1.4, 4.2, 2.0, 0.0]
    assert round_half_up(2.5, 0) == 3.0


def chart(**kw) -> Chart:
    return Chart("c", "Things", ["2023", "2024"], [Series("a", "A", [4, 2]), Series("b", "B", [1, 3])], **kw)


def test_grouped_vertical_bars_are_as_tall_as_their_values():
    layout = svg_layout(chart())
    # ticks 0..4: 200 px for 4, so 50 px per unit
    heights = {(b.series, b.category): b.height for b in layout.bars}
    assert heights == {("a", "2023"): 200, ("b", "2023"): 50, ("a", "2024"): 100, ("b", "2024"): 150}
    bottom = {b.y + b.height for b in layout.bars}
    assert len(bottom) == 1  # every bar stands on the axis
    assert [b.fill for b in layout.bars[:2]] == ["#0072B2", "#E69F00"]
    assert [t.text for _box, t in layout.legend] == ["A", "B"]
    assert layout.bars[0].title == "2023 · A: 4"


def test_stacked_bars_pile_up_and_percent_bars_fill_the_width():
    stacked = svg_layout(chart(mode=STACKED))
    a23, b23 = stacked.bars[0], stacked.bars[1]
    assert a23.y == b23.y + b23.height  # B sits on A
    assert a23.height + b23.height == 200  # 5 of a 0..5 axis
    percent = svg_layout(chart(mode=PERCENT, orientation=HORIZONTAL))
    widths = {(b.series, b.category): b.width for b in percent.bars}
    assert widths == {("a", "2023"): 304.0, ("b", "2023"): 76.0, ("a", "2024"): 152.0, ("b", "2024"): 228.0}
    assert percent.bars[1].x == percent.bars[0].x + percent.bars[0].width
    assert percent.bars[0].title == "2023 · A: 4 (80%)"


def test_a_single_series_has_no_legend_and_says_its_unit():
    layout = svg_layout(Chart("d", "Days", ["Flemish administration"], [Series("median", "Median", [1.25])],
                              orientation=HORIZONTAL, unit="days", decimals=1))
    assert layout.legend == []
    assert layout.bars[0].title == "Flemish administration: 1.3 days"
    assert "1.3 days" in [t.text for t in layout.labels]


def test_long_labels_are_shortened_with_the_full_text_kept():
    name = "Federal Public Service Health, Food Chain Safety and Environment"
    layout = svg_layout(Chart("e", "Requests", [name], [Series("n", "Requests", [3])], orientation=HORIZONTAL))
    label = next(t for t in layout.labels if t.full == name)
    assert label.text == "Federal Public Service He…" and len(label.text) == 26


def test_the_svg_is_well_formed_and_accessible(app):
    from flask import render_template_string

    with app.test_request_context():
        c = chart(description="Two things <over> two years & more.")
        c.series[1].color = GREY
        html = render_template_string('{% from "reports/_chart.html" import chart_figure %}{{ chart_figure(c, l) }}',
                                      c=c, l=svg_layout(c))
    svg = ET.fromstring(html[html.index("<svg"):html.index("</svg>") + 6])
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c-title" and svg.get("aria-describedby") == "c-desc"
    assert svg.find(f"{SVG}title").text == "Things"
    assert svg.find(f"{SVG}desc").text == "Two things <over> two years & more. The table below gives the numbers."
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [(r.get("data-series"), r.get("data-category"), r.get("data-value"), r.get("fill")) for r in bars] == [
        ("a", "2023", "4.0", "#0072B2"), ("b", "2023", "1.0", GREY), ("a", "2024", "2.0", "#0072B2"),
        ("b", "2024", "3.0", GREY)]
    assert [r.find(f"{SVG}title").text for r in bars] == ["2023 · A: 4", "2023 · B: 1", "2024 · A: 2", "2024 · B: 3"]
    assert all(el.get("style") is None for el in svg.iter())


def test_png_is_an_image():
    data = png(chart(mode=STACKED))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image
    import io

    image = Image.open(io.BytesIO(data))
    assert image.width > 600 and image.height > 300
    horizontal = png(chart(mode=PERCENT, orientation=HORIZONTAL))
    assert horizontal.startswith(b"\x89PNG")
