"""Self-contained HTML reports: inline SVG charts and CSS, no script, nothing fetched. Every text is escaped."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

Record = Mapping[str, Any]
GOOD, BAD, INK, MUTED, BAR = "#2e7d32", "#c62828", "#1f2933", "#6b7785", "#3f6fb5"
_CSS = (
    "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2933;margin:24px auto;"
    "max-width:1100px;padding:0 16px}h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;"
    "border-bottom:1px solid #dde3ea;padding-bottom:4px}.meta{color:#6b7785}.tiles{display:flex;flex-wrap:wrap;"
    "gap:10px;margin:16px 0}.tile{border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;min-width:130px}"
    ".tile b{display:block;font-size:20px}.tile span{color:#6b7785;font-size:12px}.grid{display:grid;"
    "grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:18px}table{border-collapse:collapse;width:100%;"
    "font-size:13px}td,th{border-bottom:1px solid #eef1f4;padding:5px 6px;text-align:left;vertical-align:top}"
    ".pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}details{margin:2px 0}"
    "pre{white-space:pre-wrap;background:#f6f8fa;padding:8px;border-radius:6px;margin:4px 0}"
    "svg text{font:12px system-ui,sans-serif;fill:#1f2933}"
)


def _fmt(value: Any, digits: int = 1, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    if pct:
        return f"{value * 100:.{digits}f}%"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def hbars(items: Sequence[tuple[str, float, str]], *, maximum: float | None = None, color: str = BAR,
          title: str = "") -> str:
    """Horizontal bars: (label, value, value text) per row."""
    if not items:
        return "<p class='meta'>No data.</p>"
    top = maximum or max(v for _, v, _ in items) or 1.0
    row, label_w, bar_w = 22, 170, 300
    height = row * len(items) + 26
    parts = [f"<svg role='img' width='{label_w + bar_w + 90}' height='{height}' viewBox='0 0 {label_w + bar_w + 90} "
             f"{height}' xmlns='http://www.w3.org/2000/svg'><title>{escape(title)}</title>"]
    for i, (label, value, text) in enumerate(items):
        y = 18 + i * row
        width = max(0.0, min(1.0, value / top)) * bar_w
        parts.append(f"<text x='{label_w - 6}' y='{y + 12}' text-anchor='end'>{escape(label[:28])}</text>"
                     f"<rect x='{label_w}' y='{y}' width='{width:.1f}' height='{row - 6}' rx='3' fill='{color}'/>"
                     f"<text x='{label_w + width + 6:.1f}' y='{y + 12}'>{escape(text)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: Sequence[float], *, bins: int = 12, unit: str = "", title: str = "") -> str:
    """A histogram with its axis range printed under it."""
    if not values:
        return "<p class='meta'>No data.</p>"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / span * bins))] += 1
    width, height, pad = 460, 150, 24
    bar = (width - 2 * pad) / bins
    top = max(counts)
    parts = [f"<svg role='img' width='{width}' height='{height + 30}' viewBox='0 0 {width} {height + 30}' "
             f"xmlns='http://www.w3.org/2000/svg'><title>{escape(title)}</title>"]
    for i, c in enumerate(counts):
        h = (c / top) * (height - pad) if top else 0
        x = pad + i * bar
        parts.append(f"<rect x='{x + 1:.1f}' y='{height - h:.1f}' width='{bar - 2:.1f}' height='{h:.1f}' "
                     f"fill='{BAR}'><title>{c}</title></rect>")
        if c:
            parts.append(f"<text x='{x + bar / 2:.1f}' y='{height - h - 3:.1f}' text-anchor='middle'>{c}</text>")
    parts.append(f"<line x1='{pad}' y1='{height}' x2='{width - pad}' y2='{height}' stroke='{MUTED}'/>"
                 f"<text x='{pad}' y='{height + 16}'>{escape(_fmt(low))}{escape(unit)}</text>"
                 f"<text x='{width - pad}' y='{height + 16}' text-anchor='end'>"
                 f"{escape(_fmt(high))}{escape(unit)}</text>"
                 "</svg>")
    return "".join(parts)


def delta_bars(items: Sequence[tuple[str, float, str, bool]], *, title: str = "") -> str:
    """Diverging bars around zero: (label, delta, text, better) per row; green when better, red when worse."""
    if not items:
        return "<p class='meta'>No data.</p>"
    top = max(abs(d) for _, d, _, _ in items) or 1.0
    row, label_w, half = 22, 200, 170
    width, height = label_w + 2 * half + 80, row * len(items) + 26
    mid = label_w + half
    parts = [f"<svg role='img' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
             f"xmlns='http://www.w3.org/2000/svg'><title>{escape(title)}</title>"
             f"<line x1='{mid}' y1='10' x2='{mid}' y2='{height - 4}' stroke='{MUTED}'/>"]
    for i, (label, delta, text, better) in enumerate(items):
        y = 18 + i * row
        w = abs(delta) / top * half
        x = mid if delta >= 0 else mid - w
        color = GOOD if better else BAD if delta else MUTED
        tx = mid + w + 6 if delta >= 0 else mid - w - 6
        anchor = "start" if delta >= 0 else "end"
        parts.append(f"<text x='{label_w - 6}' y='{y + 12}' text-anchor='end'>{escape(label[:30])}</text>"
                     f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{row - 6}' rx='3' fill='{color}'/>"
                     f"<text x='{tx:.1f}' y='{y + 12}' text-anchor='{anchor}'>{escape(text)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _tile(label: str, value: str) -> str:
    return f"<div class='tile'><b>{escape(value)}</b><span>{escape(label)}</span></div>"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{_CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def _group_bars(groups: Mapping[str, Mapping[str, Any]], title: str) -> str:
    items = [(name, g["pass_rate"] or 0.0, f"{_fmt(g['pass_rate'], pct=True)} of {g['cases']}")
             for name, g in groups.items()]
    return hbars(items, maximum=1.0, title=title)


def run_html(meta: Mapping[str, Any], metrics: Mapping[str, Any], records: Sequence[Record]) -> str:
    """The report of one run."""
    m = metrics
    urgency = m["urgency"]
    judge = m.get("judge")
    cost = m["cost"]["usd"]
    tiles = [
        _tile("expectation pass rate", _fmt(m["pass_rate"], pct=True)),
        _tile("cases (failed to draft)", f"{m['cases']} ({m['failed']})"),
        _tile("emergency recall", _fmt(urgency["emergency"]["recall"], pct=True)),
        _tile("urgent+emergency recall", _fmt(urgency["flagged"]["recall"], pct=True)),
        _tile("acknowledgement markers", _fmt(m["acknowledgement_rate"], pct=True)),
        _tile("partnership markers", _fmt(m["partnership_rate"], pct=True)),
        _tile("latency p50 / p95 (ms)",
              f"{_fmt(m['latency_ms'].get('p50'), 0)} / {_fmt(m['latency_ms'].get('p95'), 0)}"),
        _tile("tokens (prompt + completion)", f"{m['tokens']['prompt']:,} + {m['tokens']['completion']:,}"),
        _tile("estimated cost (USD)", "unpriced model" if cost is None else f"{cost:.4f}"),
    ]
    if judge:
        tiles.append(_tile(f"judge overall (1-5), {judge['model']}", _fmt(judge["means"]["overall"], 2)))
    body = [f"<h1>Eval run {escape(str(meta['run_id']))}</h1>",
            f"<p class='meta'>template set <b>{escape(str(meta['template_set']))}</b> · model "
            f"<b>{escape(str(meta['model']))}</b> · judge {escape(str(meta.get('judge_model') or 'off'))} · dataset "
            f"{escape(str(meta['dataset']))} (sha256 {escape(str(meta['dataset_sha256'])[:12])}) · started "
            f"{escape(str(meta.get('created_at', '')))}</p>",
            f"<div class='tiles'>{''.join(tiles)}</div>", "<div class='grid'>",
            "<section><h2>Pass rate by category</h2>" + _group_bars(m["by_category"], "pass rate by category")
            + "</section>",
            "<section><h2>Pass rate by language</h2>" + _group_bars(m["by_language"], "pass rate by language")
            + "</section>",
            "<section><h2>Expectations</h2>" + hbars(
                [(n, e["pass_rate"] or 0.0, f"{e['passed']}/{e['checked']}") for n, e in m["expectations"].items()],
                maximum=1.0, title="pass rate per expectation") + "</section>",
            "<section><h2>Guardrail findings on drafts</h2>" + hbars(
                [(c, float(n), str(n)) for c, n in m["findings_by_check"].items()], color="#b26a00",
                title="drafts with a finding, by check") + "</section>",
            "<section><h2>Reading grade (English drafts)</h2>" + histogram(
                [r["reading_grade"] for r in records if r.get("reading_grade") is not None],
                title="Flesch-Kincaid grade") + "</section>",
            "<section><h2>Word count</h2>" + histogram(
                [float(r["word_count"]) for r in records if r["draft"] is not None], title="words per draft")
            + "</section>",
            "<section><h2>Latency (ms)</h2>" + histogram(
                [r["latency_ms"] for r in records if r["draft"] is not None], unit=" ms", title="latency per case")
            + "</section>",
            "<section><h2>Urgency triage</h2>" + hbars(
                [(f"{lvl} recall", urgency[lvl]["recall"] or 0.0,
                  f"{_fmt(urgency[lvl]['recall'], pct=True)} (n={urgency[lvl]['support']})")
                 for lvl in ("emergency", "urgent", "routine", "flagged")]
                + [(f"{lvl} precision", urgency[lvl]["precision"] or 0.0,
                    f"{_fmt(urgency[lvl]['precision'], pct=True)} (flagged {urgency[lvl]['predicted']})")
                   for lvl in ("emergency", "urgent", "flagged")], maximum=1.0, title="urgency recall and precision")
            + "</section>"]
    if judge:
        body.append("<section><h2>Judge rubric (mean 1-5)</h2>" + hbars(
            [(c, v or 0.0, _fmt(v, 2)) for c, v in judge["means"].items()], maximum=5.0, title="judge means")
            + f"<p class='meta'>judge {escape(judge['model'])}: {judge['scored']} scored, {judge['failures']} "
            "answers rejected</p></section>")
    body.append("</div><h2>Cases</h2>" + _case_table(records))
    return _page(f"Eval run {meta['run_id']}", "".join(body))


def _case_table(records: Sequence[Record]) -> str:
    rows = ["<table><tr><th>case</th><th>category · lang</th><th>urgency (label → triage)</th><th>result</th>"
            "<th>failed expectations · draft</th></tr>"]
    for r in sorted(records, key=lambda r: (r["passed"], r["id"])):
        failed = [f"{e['kind']} {e['name']}" + (f" ({e['detail']})" if e["detail"] else "")
                  for e in r["expectations"] if not e["passed"]]
        verdict = "<span class='pass'>pass</span>" if r["passed"] else "<span class='fail'>fail</span>"
        judge = r.get("judge") or {}
        score = f" · judge {judge['scores']['overall']}/5" if "scores" in judge else ""
        detail = (f"<details><summary>{escape('; '.join(failed) or 'all expectations met')}{escape(score)}</summary>"
                  f"<div class='meta'>message</div><pre>{escape(str(r.get('message') or ''))}</pre>"
                  f"<div class='meta'>draft ({escape(str(r['status']))})</div>"
                  f"<pre>{escape(str(r['draft'] or r.get('error') or ''))}</pre></details>")
        rows.append(f"<tr><td>{escape(r['id'])}</td><td>{escape(r['category'])} · {escape(r['language'])}</td>"
                    f"<td>{escape(r['urgency_expected'])} → {escape(str(r['urgency_predicted']))}</td>"
                    f"<td>{verdict}</td><td>{detail}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def compare_html(comparison: Mapping[str, Any]) -> str:
    """The report of a comparison of two runs: metric deltas, per-category deltas, flipped cases, thresholds."""
    a, b = comparison["a"], comparison["b"]
    body = [f"<h1>Eval comparison</h1><p class='meta'>A: {escape(a['run_id'])} ({escape(a['template_set'])}, "
            f"{escape(a['model'])}) → B: {escape(b['run_id'])} ({escape(b['template_set'])}, {escape(b['model'])}) · "
            f"{comparison['paired_cases']} paired cases</p>"]
    mc = comparison["mcnemar"]
    rates = comparison["pass_rate"]
    tiles = [_tile("verdict", comparison["verdict"]),
             _tile("pass rate A → B", f"{_fmt(rates['a'], pct=True)} → {_fmt(rates['b'], pct=True)}"),
             _tile("McNemar exact p", _fmt(mc["p_value"], 4)),
             _tile("flipped pass→fail / fail→pass", f"{mc['pass_to_fail']} / {mc['fail_to_pass']}")]
    body.append(f"<div class='tiles'>{''.join(tiles)}</div>")
    items = []
    for d in comparison["deltas"]:
        if d["delta"] is None:
            continue
        scale = 100.0 if d["kind"] == "rate" else 1.0
        text = f"{d['delta'] * scale:+.1f}{' pts' if d['kind'] == 'rate' else ''}"
        items.append((d["metric"], d["delta"] * scale, text, bool(d["better"])))
    body.append("<h2>Metric deltas (B − A)</h2>" + delta_bars(items, title="metric deltas"))
    cat_items = [(name, (c["delta"] or 0.0) * 100, f"{(c['delta'] or 0.0) * 100:+.1f} pts", (c["delta"] or 0) > 0)
                 for name, c in comparison["by_category"].items()]
    body.append("<h2>Pass rate by category (B − A)</h2>" + delta_bars(cat_items, title="category deltas"))
    if comparison.get("bootstrap"):
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{_fmt(v['delta'], 3)}</td><td>[{_fmt(v['low'], 3)}, "
                       f"{_fmt(v['high'], 3)}]</td></tr>" for k, v in comparison["bootstrap"].items())
        body.append("<h2>Bootstrap 95% intervals (paired, B − A)</h2><table><tr><th>score</th><th>delta</th>"
                    f"<th>interval</th></tr>{rows}</table>")
    if comparison["thresholds"]:
        rows = "".join(f"<tr><td>{escape(t['rule'])}</td><td>{_fmt(t['a'], 4)}</td><td>{_fmt(t['b'], 4)}</td>"
                       f"<td class='{'pass' if t['ok'] else 'fail'}'>{'ok' if t['ok'] else 'REGRESSED'}</td></tr>"
                       for t in comparison["thresholds"])
        body.append(f"<h2>Thresholds</h2><table><tr><th>rule</th><th>A</th><th>B</th><th></th></tr>{rows}</table>")
    flips = comparison["flipped"]
    rows = "".join(f"<tr><td>{escape(f['id'])}</td><td>{escape(f['category'])}</td><td>{escape(f['direction'])}</td>"
                   f"<td>{escape(', '.join(f['now_failing']))}</td></tr>" for f in flips)
    body.append(f"<h2>Flipped cases ({len(flips)})</h2><table><tr><th>case</th><th>category</th><th>direction</th>"
                f"<th>failing in B</th></tr>{rows}</table>")
    return _page("Eval comparison", "".join(body))


def finite(value: float | None) -> bool:
    """True for a real number (not None, NaN or infinite)."""
    return value is not None and math.isfinite(value)
