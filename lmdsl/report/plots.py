"""The report's plots: matplotlib figures written as inline SVG (text kept as text, no
external fonts or scripts, deterministic ids so two plots on one page never clash)."""

from __future__ import annotations

import io
import re
from typing import Any

from lmdsl.errors import ConfigError

INSTALL_HINT = "the report's plots need matplotlib: pip install 'lmdsl[report]'"
BASE = "#9aa5b1"
BEST = "#2f7d4a"
OTHER = "#4a78b5"
WORSE = "#b5534a"


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, safe in any thread
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def to_svg(fig: Any, name: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name, "font.size": 9}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    svg = text[text.index("<svg"):]
    # matplotlib ids are unique within a figure; prefix them so several SVGs can share one page
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{name}-{m.group(1)})", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{name}-{m.group(1)}"', svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" class="plot" ', 1)


def candidate_scores(baseline: float | None, candidates: list[dict[str, Any]], final: float | None) -> str:
    """Horizontal bars: each candidate's valset score, the chosen one highlighted, the baseline a line."""
    names = [c["name"] for c in candidates]
    scores = [c["score"] if c["score"] is not None else 0.0 for c in candidates]
    fig = _figure(7.0, max(1.8, 0.36 * len(names) + 1.2))
    ax = fig.add_subplot()
    colors = [BEST if c.get("best") else OTHER for c in candidates]
    ys = list(range(len(names)))
    ax.barh(ys, scores, color=colors, height=0.65)
    for y, s in zip(ys, scores):
        ax.text(s + 0.8, y, f"{s:.1f}", va="center", fontsize=8)
    if baseline is not None:
        ax.axvline(baseline, color=WORSE, linestyle="--", linewidth=1.2, label=f"program as given: {baseline:.1f}")
    if final is not None:
        ax.axvline(final, color=BEST, linestyle=":", linewidth=1.2, label=f"compiled (re-scored): {final:.1f}")
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xlim(0, max(100.0, *(s + 8 for s in scores)))
    ax.set_xlabel("valset score")
    ax.spines[["top", "right"]].set_visible(False)
    if baseline is not None or final is not None:
        fig.legend(loc="outside lower center", fontsize=8, frameon=False, ncols=2)
    return to_svg(fig, "candidate-scores")


def confusion(matrix: list[list[int]], labels: list[str], columns: list[str], title: str, name: str) -> str:
    fig = _figure(max(3.2, 1.4 + 0.6 * len(columns)), max(2.2, 1.2 + 0.45 * len(labels)))
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues", aspect="auto", vmin=0, vmax=max(1, max(map(max, matrix))))
    top = max(1, max(map(max, matrix)))
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                        color="white" if n > top / 2 else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    return to_svg(fig, name)


def label_accuracy(series: dict[str, dict[str, float | None]], name: str) -> str:
    """Grouped bars: per-label accuracy for each evaluation (e.g. baseline and compiled)."""
    labels: list[str] = []
    for acc in series.values():
        labels += [lb for lb in acc if lb not in labels]
    fig = _figure(max(3.5, 0.9 * len(labels) + 1.5), 2.4)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    palette = [BASE, BEST, OTHER]
    for k, (title, acc) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, [acc.get(lb) or 0.0 for lb in labels], width=width, label=title, color=palette[k % 3])
    ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy %")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, ncols=len(series))
    return to_svg(fig, name)


def phase_times(phases: list[dict[str, Any]]) -> str:
    """Horizontal bars: wall time of each top-level phase and its direct children."""
    shown = [p for p in phases if p["depth"] <= 1]
    names = [("    " * p["depth"]) + p["name"] for p in shown]
    fig = _figure(7.0, max(1.4, 0.3 * len(shown) + 0.8))
    ax = fig.add_subplot()
    ys = list(range(len(shown)))
    ax.barh(ys, [p["wall_time"] for p in shown], color=[OTHER if p["depth"] else BASE for p in shown], height=0.6)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.spines[["top", "right"]].set_visible(False)
    return to_svg(fig, "phase-times")
