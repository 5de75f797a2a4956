"""`lake report`: one self-contained HTML page about the lake's runs, from the run history.

What it shows, each section from the history alone (no Spark, no table reads):
- a timeline per job: every run as a bar from its start to its end, coloured by its state;
- rows written and rows quarantined per day and dataset;
- the quality rules that dropped or failed the most rows;
- the slowest stages of the runs (extract, raw checks, transform, quality gate, write, commit).

Self-contained means one file with inline CSS and inline SVG and no script: it opens from a
mail attachment or an S3 console download without a network, and a browser shows it as is.
Charts are drawn here rather than with a plotting library because each is a handful of
rectangles, and a library (matplotlib, plotly) would add tens of megabytes and a script or a
raster image to a page that must stay small and readable as text.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

STATE_COLOURS = {
    "SUCCEEDED": "#2e7d32",
    "NO_INPUT": "#90a4ae",
    "FAILED": "#c62828",
    "RUNNING": "#1565c0",
    "WAITING": "#f9a825",
}
WRITTEN_COLOUR, QUARANTINED_COLOUR = "#2e7d32", "#ef6c00"
TIMELINE_WIDTH, ROW_HEIGHT, LABEL_WIDTH = 900, 26, 170
TOP_RULES, SLOWEST_STAGES = 10, 10


@dataclass(frozen=True)
class ReportRun:
    """What the report needs of one run (built from a history record by `from_record`)."""

    run_id: str
    job: str
    dataset: str
    state: str
    started_at: datetime
    ended_at: datetime | None
    rows_written: int = 0
    rows_quarantined: int = 0
    rules_failed: Mapping[str, int] = field(default_factory=dict)
    stages: Sequence[Mapping[str, Any]] = ()

    @property
    def seconds(self) -> float | None:
        return None if self.ended_at is None else max(0.0, (self.ended_at - self.started_at).total_seconds())

    @classmethod
    def from_record(cls, record: Mapping[str, Any], dataset: str | None = None) -> ReportRun:
        return cls(
            run_id=str(record["run_id"]),
            job=str(record["job"]),
            dataset=dataset or str(record["job"]),
            state=str(record["state"]),
            started_at=_instant(record["started_at"]),
            ended_at=_instant(record["ended_at"]) if record.get("ended_at") else None,
            rows_written=int(record.get("rows_written") or 0),
            rows_quarantined=int(record.get("rows_quarantined") or 0),
            rules_failed=dict(record.get("rules_failed") or {}),
            stages=tuple(record.get("stages") or ()),
        )


def _instant(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def render_report(runs: Iterable[ReportRun], *, title: str, generated_at: datetime) -> str:
    """The whole page."""
    runs = sorted(runs, key=lambda r: (r.started_at, r.run_id))
    sections = [
        _section("Runs per job", "timeline", _timeline(runs)),
        _section("Rows written and quarantined per day", "rows-per-day", _rows_per_day(runs)),
        _section("Rules that drop the most rows", "top-rules", _top_rules(runs)),
        _section("Slowest stages", "slowest-stages", _slowest_stages(runs)),
    ]
    summary = Counter(r.state for r in runs)
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(summary.items())) or "no runs"
    return _PAGE.format(
        title=escape(title),
        style=_STYLE,
        subtitle=escape(f"{len(runs)} runs ({counts}); generated {generated_at:%Y-%m-%d %H:%M} UTC"),
        body="\n".join(sections),
    )


def _section(heading: str, anchor: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(heading)}</h2>\n{content}\n</section>'


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


# ---- timeline ------------------------------------------------------------------------------


def _timeline(runs: Sequence[ReportRun]) -> str:
    if not runs:
        return _empty("No runs in the history yet: upload a file or run `lake demo`.")
    start = min(r.started_at for r in runs)
    end = max((r.ended_at or r.started_at) for r in runs)
    span = max((end - start).total_seconds(), 1.0)
    jobs = sorted({r.job for r in runs})
    height = ROW_HEIGHT * len(jobs) + 30
    scale = (TIMELINE_WIDTH - LABEL_WIDTH - 10) / span
    parts = [
        f'<svg class="timeline" viewBox="0 0 {TIMELINE_WIDTH} {height}" width="100%" role="img" '
        f'aria-label="timeline of runs per job">'
    ]
    for row, job in enumerate(jobs):
        y = row * ROW_HEIGHT
        parts.append(f'<text x="0" y="{y + 17}" class="job">{escape(job)}</text>')
        parts.append(f'<line x1="{LABEL_WIDTH}" x2="{TIMELINE_WIDTH}" y1="{y + 12}" y2="{y + 12}" class="lane"/>')
        for run in (r for r in runs if r.job == job):
            x = LABEL_WIDTH + (run.started_at - start).total_seconds() * scale
            width = max(3.0, (run.seconds or 0.0) * scale)
            parts.append(
                f'<rect class="run" data-state="{escape(run.state)}" data-run-id="{escape(run.run_id)}" '
                f'x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="16" '
                f'fill="{STATE_COLOURS.get(run.state, "#616161")}"><title>{escape(_run_tooltip(run))}</title></rect>'
            )
    axis_y = ROW_HEIGHT * len(jobs) + 18
    parts.append(f'<text x="{LABEL_WIDTH}" y="{axis_y}" class="axis">{start:%Y-%m-%d %H:%M:%S}</text>')
    parts.append(
        f'<text x="{TIMELINE_WIDTH}" y="{axis_y}" class="axis" text-anchor="end">{end:%Y-%m-%d %H:%M:%S}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + _legend()


def _run_tooltip(run: ReportRun) -> str:
    took = "still running" if run.seconds is None else f"{run.seconds:.1f} s"
    return f"{run.job} {run.run_id}: {run.state}, {took}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC"


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{escape(state.lower())}</span>'
        for state, colour in STATE_COLOURS.items()
    )
    return f'<p class="legend">{items}</p>'


# ---- rows per day --------------------------------------------------------------------------


def _rows_per_day(runs: Sequence[ReportRun]) -> str:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for run in runs:
        if run.rows_written or run.rows_quarantined:
            cell = totals[(f"{run.started_at:%Y-%m-%d}", run.dataset)]
            cell[0] += run.rows_written
            cell[1] += run.rows_quarantined
    if not totals:
        return _empty("No rows written or quarantined yet.")
    largest = max(max(w, q) for w, q in totals.values()) or 1
    rows = []
    for (day, dataset), (written, quarantined) in sorted(totals.items()):
        rows.append(
            f'<tr data-day="{day}" data-dataset="{escape(dataset)}"><td>{day}</td><td>{escape(dataset)}</td>'
            f'<td class="num">{written:,}</td><td>{_bar(written, largest, WRITTEN_COLOUR)}</td>'
            f'<td class="num">{quarantined:,}</td><td>{_bar(quarantined, largest, QUARANTINED_COLOUR)}</td></tr>'
        )
    return (
        '<table><thead><tr><th>day (UTC)</th><th>dataset</th><th colspan="2">rows written</th>'
        '<th colspan="2">rows quarantined</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def _bar(value: float, largest: float, colour: str, width: int = 220) -> str:
    length = 0.0 if largest <= 0 else max(0.0, value) / largest * width
    return (
        f'<svg class="bar" width="{width}" height="12" aria-hidden="true">'
        f'<rect width="{length:.1f}" height="12" fill="{colour}"/></svg>'
    )


# ---- rules ---------------------------------------------------------------------------------


def _top_rules(runs: Sequence[ReportRun]) -> str:
    dropped: Counter[tuple[str, str]] = Counter()
    for run in runs:
        for rule, count in run.rules_failed.items():
            dropped[(run.job, rule)] += int(count)
    if not dropped:
        return _empty("No rule has dropped or failed a row.")
    top = dropped.most_common(TOP_RULES)
    largest = top[0][1] or 1
    rows = "".join(
        f'<tr data-rule="{escape(rule)}"><td>{escape(job)}</td><td><code>{escape(rule)}</code></td>'
        f'<td class="num">{count:,}</td><td>{_bar(count, largest, QUARANTINED_COLOUR)}</td></tr>'
        for (job, rule), count in top
    )
    return (
        '<table><thead><tr><th>job</th><th>rule</th><th colspan="2">rows</th></tr></thead><tbody>'
        + rows
        + "</tbody></table>"
    )


# ---- stages --------------------------------------------------------------------------------


def _slowest_stages(runs: Sequence[ReportRun]) -> str:
    timed = [
        (float(stage["seconds"]), str(stage["name"]), run)
        for run in runs
        for stage in run.stages
        if stage.get("seconds") is not None
    ]
    if not timed:
        return _empty("No stage timings recorded yet.")
    timed.sort(key=lambda item: (-item[0], item[2].started_at))
    top = timed[:SLOWEST_STAGES]
    largest = top[0][0] or 1.0
    rows = "".join(
        f'<tr data-stage="{escape(name)}"><td>{escape(name)}</td><td>{escape(run.job)}</td>'
        f'<td><code>{escape(run.run_id)}</code></td><td class="num">{seconds:.2f} s</td>'
        f"<td>{_bar(seconds, largest, STATE_COLOURS['RUNNING'])}</td></tr>"
        for seconds, name, run in top
    )
    return (
        '<table><thead><tr><th>stage</th><th>job</th><th>run</th><th colspan="2">time</th></tr></thead>'
        "<tbody>" + rows + "</tbody></table>"
    )


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:980px;color:#212121}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e0e0e0}
.subtitle{color:#616161;margin-top:0}table{border-collapse:collapse;width:100%}
th,td{padding:.25rem .5rem;text-align:left;border-bottom:1px solid #eeeeee;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}.empty{color:#757575;font-style:italic}
svg.timeline text{font-size:12px;fill:#424242}svg.timeline .lane{stroke:#eeeeee}
svg.timeline .axis{font-size:11px;fill:#757575}.legend span{margin-right:1rem;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
{body}
</body>
</html>
"""
