"""Line charts drawn on the server as inline SVG: no chart library, no CDN, readable without JavaScript."""

from datetime import datetime
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from papertrading.money import format_decimal


def _label(value: Decimal) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 else format_decimal(value)


def line_chart(
    points: list[tuple[datetime, Decimal]],
    *,
    title: str,
    width: int = 720,
    height: int = 220,
    step: bool = False,
    zero_line: bool = False,
) -> SafeString:
    """An SVG line of (time, value) points, oldest first; `step` draws a staircase (a running total)."""
    if len(points) < 2:
        return format_html('<p class="chart-empty muted">{}: not enough data yet.</p>', title)
    pad_left, pad_right, pad_top, pad_bottom = 84, 12, 12, 26
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    times = [t.timestamp() for t, _ in points]
    values = [float(v) for _, v in points]
    low, high = min(values), max(values)
    if zero_line:
        low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high, low = high + 1, low - 1
    t0, t1 = times[0], times[-1] if times[-1] > times[0] else times[0] + 1

    def x(t: float) -> float:
        return pad_left + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return pad_top + (high - v) / (high - low) * plot_h

    coords = []
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if step and i:
            coords.append((x(t), y(values[i - 1])))
        coords.append((x(t), y(v)))
    path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
    last = points[-1][1]
    colour = "#1f7a46" if last >= (0 if zero_line else points[0][1]) else "#b3261e"
    zero = (
        format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#9aa5b1" stroke-dasharray="4 3"/>',
            pad_left,
            width - pad_right,
            f"{y(0):.1f}",
            f"{y(0):.1f}",
        )
        if zero_line
        else ""
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="{}" font-size="11" fill="#5b6775">{}</text>',
        [
            (pad_left - 6, pad_top + 10, "end", _label(Decimal(str(high)))),
            (pad_left - 6, pad_top + plot_h, "end", _label(Decimal(str(low)))),
            (pad_left, height - 6, "start", f"{points[0][0]:%Y-%m-%d %H:%M}"),
            (width - pad_right, height - 6, "end", f"{points[-1][0]:%Y-%m-%d %H:%M}"),
        ],
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{title}: {n} points, '
        'last {last}" preserveAspectRatio="none"><title>{title}</title>'
        '<rect x="{pl}" y="{pt}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#e1e5ea"/>{zero}'
        '<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>{labels}</svg>',
        w=width,
        h=height,
        title=title,
        n=len(points),
        last=_label(last),
        pl=pad_left,
        pt=pad_top,
        pw=plot_w,
        ph=plot_h,
        zero=zero,
        colour=colour,
        path=path,
        labels=labels,
    )
