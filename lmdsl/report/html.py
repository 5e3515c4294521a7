"""Render :class:`ReportData` as one self-contained HTML page: inline CSS and SVG, no script,
no font, image or stylesheet fetched from anywhere."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from lmdsl.report import plots
from lmdsl.report.data import ChangedRow, LabelBreakdown, PredictorState, ReportData

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:34px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
h3{font-size:14px;margin:18px 0 6px}.sub{color:#5b6570;margin:0 0 14px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #dde2e7;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#e5f3ea;font-weight:600}.facts th{width:210px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}
.card{background:#fff;border:1px solid #dde2e7;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:22px}.card span{color:#5b6570;font-size:12px}
.up b{color:#2f7d4a}.down b{color:#b5534a}
figure{margin:8px 0 14px;background:#fff;border:1px solid #dde2e7;border-radius:6px;padding:8px;display:inline-block}
figure svg{display:block;max-width:100%;height:auto}figcaption{font-size:12px;color:#5b6570;margin-top:4px}
.row{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start}
pre{white-space:pre-wrap;background:#fff;border:1px solid #dde2e7;padding:8px;margin:4px 0;font-size:12.5px}
code{font-size:12.5px}.muted{color:#5b6570}.phase0{font-weight:600}
details{margin:4px 0 10px}summary{cursor:pointer;color:#2a5d9f}
"""


def render(data: ReportData) -> str:
    parts = [f"<h1>{escape(data.title)}</h1>", _cards(data), _facts(data.facts)]
    if data.candidates:
        parts.append(_candidates(data))
    if data.predictors:
        parts.append(_predictors(data.predictors, data.kind))
    if data.breakdowns:
        parts.append(_labels(data.breakdowns))
    if data.kind == "compile":
        parts.append(_changes(data.improved, data.worsened))
    elif data.failures:
        parts.append("<h2>Rows scored below 1</h2>" + _rows_table(data.failures, with_before=False))
    parts.append(_cost(data))
    if data.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in data.notes) + "</ul>")
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        # nothing on this page may load anything: CSP forbids every fetch
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>{escape(data.title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def _cards(data: ReportData) -> str:
    cards = []
    if data.baseline_score is not None:
        cards.append(("program as given", f"{data.baseline_score:.1f}", ""))
    if data.final_score is not None:
        label = "compiled" if data.kind == "compile" else "score"
        delta = ""
        if data.baseline_score is not None:
            diff = data.final_score - data.baseline_score
            delta = "up" if diff > 0 else "down" if diff < 0 else ""
            label += f" ({diff:+.1f})"
        cards.append((label, f"{data.final_score:.1f}", delta))
    if data.kind == "compile":
        cards.append(("rows wrong → right", str(len(data.improved)), "up" if data.improved else ""))
        cards.append(("rows right → wrong", str(len(data.worsened)), "down" if data.worsened else ""))
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card {cls}\"><b>{escape(v)}</b><span>{escape(k)}</span></div>" for k, v, cls in cards
    ) + "</div>"


def _facts(facts: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    return f"<table class=\"facts\">{rows}</table>"


def _candidates(data: ReportData) -> str:
    svg = plots.candidate_scores(data.baseline_score, data.candidates, data.final_score)
    head = "<tr><th>#</th><th>candidate</th><th>valset score</th><th>demos per predictor</th><th>LM calls</th>" \
           "<th>tokens</th><th>time (s)</th><th>errors</th></tr>"
    rows = []
    for i, c in enumerate(data.candidates):
        d = c.get("details") or {}
        demos = ", ".join(f"{k}: {v}" for k, v in (c.get("demos") or {}).items()) or "-"
        score = "-" if c["score"] is None else f"{c['score']:.1f}"
        rows.append(f"<tr class=\"{'best' if c.get('best') else ''}\"><td class=num>{i + 1}</td>"
                    f"<td>{escape(c['name'])}{' (chosen)' if c.get('best') else ''}</td><td class=num>{score}</td>"
                    f"<td>{escape(demos)}</td><td class=num>{_num(d.get('lm_calls'))}</td>"
                    f"<td class=num>{_num(d.get('tokens'))}</td><td class=num>{_num(d.get('wall_time'))}</td>"
                    f"<td class=num>{_num(d.get('errors'))}</td></tr>")
    return ("<h2>Candidates on the valset</h2>"
            "<p class=sub>Each candidate program the optimizer built, scored on the valset; the chosen one is "
            "green, the dashed line is the program as given. LM calls, tokens and time are those spent building "
            "and scoring that candidate.</p>"
            f"<figure>{svg}<figcaption>valset score per candidate</figcaption></figure>"
            f"<table>{head}{''.join(rows)}</table>")


def _predictors(states: list[PredictorState], kind: str) -> str:
    out = ["<h2>" + ("The chosen program" if kind == "compile" else "The program") + "</h2>",
           "<p class=sub>Per predictor: its instructions, signature and the demonstrations it shows the LM.</p>"]
    for s in states:
        out.append(f"<h3><code>{escape(s.path)}</code> · {len(s.demos)} demo(s)</h3>")
        out.append(f"<div class=muted><code>{escape(s.signature)}</code></div>")
        out.append(f"<pre>{escape(s.instructions) or '<span class=muted>(no instructions)</span>'}</pre>")
        if s.label_bias:
            bias = ", ".join(f"{k} {v:+.2f}" for k, v in s.label_bias.items())
            out.append(f"<div>label bias (scored labels): <code>{escape(bias)}</code></div>")
        if s.demos:
            keys: list[str] = []
            for d in s.demos:
                keys += [k for k in d if k not in keys]
            head = "".join(f"<th>{escape(k)}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{escape(_short(d.get(k, '')))}</td>" for k in keys) + "</tr>"
                           for d in s.demos)
            out.append(f"<details open><summary>demos</summary><table><tr>{head}</tr>{body}</table></details>")
    return "\n".join(out)


def _labels(all_breakdowns: dict[str, list[LabelBreakdown]]) -> str:
    out = ["<h2>Labels</h2><p class=sub>For outputs that are labels: gold (rows) against predicted (columns), "
           "and accuracy per gold label.</p>"]
    fields: list[str] = []
    for items in all_breakdowns.values():
        fields += [b.field for b in items if b.field not in fields]
    for name in fields:
        out.append(f"<h3>{escape(name)}</h3><div class=row>")
        accuracy: dict[str, dict[str, float | None]] = {}
        for which, items in all_breakdowns.items():
            b = next((x for x in items if x.field == name), None)
            if b is None:
                continue
            svg = plots.confusion(b.matrix, b.labels, b.columns, f"{which}: {b.total} rows",
                                  f"confusion-{_slug(which)}-{_slug(name)}")
            out.append(f"<figure>{svg}<figcaption>{escape(which)}</figcaption></figure>")
            accuracy[which] = b.accuracy()
        out.append("</div>")
        svg = plots.label_accuracy(accuracy, f"label-accuracy-{_slug(name)}")
        out.append(f"<figure>{svg}<figcaption>accuracy per gold label</figcaption></figure>")
        labels = list(next(iter(accuracy.values())).keys()) if accuracy else []
        head = "<tr><th>label</th>" + "".join(f"<th>{escape(w)} accuracy %</th>" for w in accuracy) + "</tr>"
        body = "".join("<tr><td>" + escape(lb) + "</td>" + "".join(
            f"<td class=num>{_num(acc.get(lb))}</td>" for acc in accuracy.values()) + "</tr>" for lb in labels)
        out.append(f"<table>{head}{body}</table>")
    return "\n".join(out)


def _changes(improved: list[ChangedRow], worsened: list[ChangedRow]) -> str:
    return ("<h2>Rows that changed</h2><p class=sub>Valset rows whose score differs between the program as "
            "given and the compiled program.</p>"
            f"<h3>wrong → right ({len(improved)})</h3>{_rows_table(improved)}"
            f"<h3>right → wrong ({len(worsened)})</h3>{_rows_table(worsened)}")


def _rows_table(rows: list[ChangedRow], with_before: bool = True) -> str:
    if not rows:
        return "<p class=muted>none</p>"
    head = "<tr><th>row</th><th>inputs</th><th>gold</th>" + ("<th>before</th>" if with_before else "") + \
           "<th>" + ("after" if with_before else "predicted") + "</th><th>score</th></tr>"
    body = []
    for r in rows:
        score = f"{r.before_score:g} → {r.after_score:g}" if with_before else f"{r.after_score:g}"
        before = f"<td>{escape(_short(r.before))}</td>" if with_before else ""
        body.append(f"<tr><td class=num>{r.index}</td><td>{escape(_short(r.inputs))}</td>"
                    f"<td>{escape(_short(r.gold))}</td>{before}<td>{escape(_short(r.after))}</td>"
                    f"<td class=num>{score}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _cost(data: ReportData) -> str:
    out = ["<h2>Calls, tokens, cost and time per phase</h2>",
           "<p class=sub>LM calls reached the model; cached calls were answered from lmdsl's cache. "
           "Nested phases are part of the phase above them.</p>"]
    if data.phases:
        out.append(f"<figure>{plots.phase_times(data.phases)}<figcaption>wall time per phase</figcaption></figure>")
        head = "<tr><th>phase</th><th>LM calls</th><th>cached</th><th>tokens</th><th>cost ($)</th>" \
               "<th>time (s)</th><th>score</th></tr>"
        body = []
        for p in data.phases:
            u = p["usage"]
            name = "&nbsp;" * 4 * p["depth"] + escape(p["name"])
            score = p["attributes"].get("score")
            body.append(f"<tr class=phase{min(p['depth'], 1)}><td>{name}</td><td class=num>{_num(u.get('lm_calls'))}"
                        f"</td><td class=num>{_num(u.get('cached_calls'))}</td><td class=num>"
                        f"{_num(u.get('total_tokens'))}</td><td class=num>{_money(u.get('cost'))}</td>"
                        f"<td class=num>{_seconds(p['wall_time'])}</td><td class=num>{_num(score)}</td></tr>")
        out.append(f"<table>{head}{''.join(body)}</table>")
    if data.estimate:
        e = data.estimate
        rows = [("estimated LM calls (before the run)", _num(e.get("estimated_calls"))),
                ("actual calls made (model + cache)", _num(e.get("calls"))),
                ("... that reached the model", _num(e.get("lm_calls"))),
                ("estimated cost ($)", _money(e.get("estimated_cost")) if e.get("estimated_cost") is not None
                 else "not estimated"),
                ("actual cost ($)", _money(e.get("cost"))),
                ("tokens", _num(e.get("tokens"))), ("wall time (s)", _num(e.get("wall_time")))]
        out.append("<h3>Estimate and actual</h3><table class=facts>" + "".join(
            f"<tr><th>{escape(k)}</th><td class=num>{v}</td></tr>" for k, v in rows) + "</table>")
        if e.get("note"):
            out.append(f"<p class=muted>{escape(e['note'])}</p>")
    return "\n".join(out)


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def _seconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _money(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "x"
