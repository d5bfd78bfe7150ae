"""A sparkline of daily counts as the coordinates of an inline SVG polyline.

Drawn on the server, so the sources page needs no script and no image request; the template
writes the numbers into an <svg> element (numbers only: nothing stored reaches the markup).
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 120
HEIGHT = 24
#: Room kept at the top and bottom so the line's stroke is not clipped.
PAD = 2


@dataclass(frozen=True)
class Sparkline:
    counts: tuple[int, ...]
    #: "x1,y1 x2,y2 ..." for <polyline points="...">.
    points: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def peak(self) -> int:
        return max(self.counts, default=0)


def sparkline(counts: list[int], *, width: int = WIDTH, height: int = HEIGHT) -> Sparkline:
    """Scale the counts to the box: the busiest day touches the top, a day without articles the
    bottom; one count is a flat line across."""
    if not counts:
        return Sparkline((), "", width, height)
    peak = max(counts) or 1
    step = width / max(len(counts) - 1, 1)
    usable = height - 2 * PAD
    points = " ".join(
        f"{round(i * step, 1):g},{round(height - PAD - usable * n / peak, 1):g}" for i, n in enumerate(counts)
    )
    return Sparkline(tuple(counts), points, width, height)
