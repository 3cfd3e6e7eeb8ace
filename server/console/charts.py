"""Charts drawn on the server as SVG: time series (lines) and a funnel (bars).

A chart is a picture of numbers that are on the page as a table as well (for screen
readers and for copying). Each series has a colour of at least 3:1 against the white
background (WCAG 1.4.11; the browser tests compute it from the page) and a dash pattern
of its own, so that colour is never the only way to tell two lines apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

#: Series colours and dash patterns, by figure.
PALETTE: dict[str, tuple[str, str]] = {
    "sent": ("#0b57d0", ""),
    "delivered": ("#1e6b34", "6 3"),
    "opened": ("#8a5300", "2 3"),
    "clicked": ("#8b1d8f", "8 3 2 3"),
    "ordered": ("#b3261e", ""),
    "unsubscribed": ("#4a5668", "4 4"),
    "bounced": ("#6d4c41", "1 3"),
    "failed": ("#a0003c", "10 4"),
}
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 40


@dataclass
class Series:
    name: str
    label: str
    values: list[float]


def _nice_top(value: float) -> float:
    """The top of an axis with four ticks: a round step at or above a quarter of ``value``
    (1, 2, 5, 10...; for amounts also 2.5), so that counts are ticked in whole numbers."""
    if value <= 0:
        return 4.0
    quarter = value / 4
    power = 10 ** math.floor(math.log10(quarter))
    steps = (1, 2, 5, 10) if value == int(value) else (1, 2, 2.5, 5, 10)
    step = next(s * power for s in steps if s * power >= quarter)
    if value == int(value):
        step = max(step, 1)
    return float(step * 4)


def _f(value: float) -> str:
    return f"{value:.1f}"


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Lines over ``labels`` (the periods), one per series, with axes and a legend."""
    top = _nice_top(max((v for s in series for v in s.values), default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return LEFT + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y(v: float) -> float:
        return TOP + inner_h - inner_h * v / top

    out = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {} {}" width="100%" '
                  'role="img" aria-label="{}">').format(WIDTH, HEIGHT, title)]  # fmt: skip
    for tick in range(5):
        value = top * tick / 4
        out.append(Markup('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>').format(
            LEFT, WIDTH - RIGHT, _f(y(value)), _f(y(value))))  # fmt: skip
        text = f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"
        out.append(Markup('<text x="{}" y="{}" text-anchor="end">{}</text>').format(LEFT - 6, _f(y(value) + 4), text))
    out.append(Markup('<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>').format(
        LEFT, WIDTH - RIGHT, _f(y(0)), _f(y(0))))  # fmt: skip
    every = max(1, math.ceil(count / 8))
    for i, label in enumerate(labels):
        # Every few periods, and the last unless it would sit on the one before.
        if i % every == 0 or (i == count - 1 and i % every > every // 2):
            anchor = "end" if i == count - 1 and count > 1 else "start" if i == 0 and count > 1 else "middle"
            out.append(Markup('<text x="{}" y="{}" text-anchor="{}">{}</text>').format(
                _f(x(i)), HEIGHT - BOTTOM + 18, anchor, label))  # fmt: skip
    for s in series:
        colour, dash = PALETTE.get(s.name, ("#1b2430", ""))
        points = " ".join(f"{_f(x(i))},{_f(y(v))}" for i, v in enumerate(s.values))
        dashes = Markup(' stroke-dasharray="{}"').format(dash) if dash else Markup("")
        out.append(Markup('<polyline class="series" data-series="{}" stroke="{}"{} points="{}"><title>{}</title>'
                          "</polyline>").format(s.name, colour, dashes, points, s.label))  # fmt: skip
        if len(s.values) == 1:
            out.append(Markup('<circle cx="{}" cy="{}" r="4" fill="{}"/>').format(
                _f(x(0)), _f(y(s.values[0])), colour))  # fmt: skip
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def legend(series: Sequence[Series]) -> Markup:
    items = [
        Markup('<li><span class="swatch" style="background:{}"></span>{}</li>').format(
            PALETTE.get(s.name, ("#1b2430", ""))[0], s.label)
        for s in series
    ]  # fmt: skip
    return Markup('<ul class="legend">{}</ul>').format(Markup("").join(items))


def funnel(title: str, stages: Sequence[tuple[str, str, int]]) -> Markup:
    """Horizontal bars for (figure, label, count) stages, each with its share of the first."""
    first = stages[0][2] if stages else 0
    bar_h, gap, label_w = 26, 10, 120
    width = WIDTH
    height = len(stages) * (bar_h + gap) + gap
    room = width - label_w - 150
    out = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart funnel" viewBox="0 0 {} {}" width="100%" '
                  'role="img" aria-label="{}">').format(width, height, title)]  # fmt: skip
    for i, (name, label, count) in enumerate(stages):
        top = gap + i * (bar_h + gap)
        share = count / first if first else 0.0
        colour = PALETTE.get(name, ("#1b2430", ""))[0]
        out.append(Markup('<text x="{}" y="{}" text-anchor="end">{}</text>').format(label_w - 8, top + 17, label))
        out.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" fill="{}" data-series="{}" rx="3"/>').format(
            label_w, top, _f(max(room * share, 2)), bar_h, colour, name))  # fmt: skip
        percent = f" ({share:.0%})" if first and i else ""
        out.append(Markup('<text class="bar-label" x="{}" y="{}">{}{}</text>').format(
            _f(label_w + max(room * share, 2) + 8), top + 17, count, percent))  # fmt: skip
    out.append(Markup("</svg>"))
    return Markup("").join(out)
