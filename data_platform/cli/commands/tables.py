"""`lake history`, `lake rollback`, `lake maintain`: the silver and gold Iceberg tables."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import JustifyMethod
from rich.markup import escape
from rich.table import Table

from data_platform.cli.render import Reporter, err, out, print_json, rel
from data_platform.cli.settings import SETTINGS, load
from data_platform.local import LakeError


def history(
    dataset: Annotated[str, typer.Argument(help="Dataset (a silver or gold table of the stack), e.g. sales.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the snapshots as JSON (oldest first).")] = False,
) -> None:
    """The table's snapshots: which run committed each, from which source objects, rows added
    and removed, and which are rolled back. Read from the table's Iceberg metadata (no Spark).

    Example: lake history sales    |    lake history sales --json
    """
    from data_platform.local.tables import load_table, snapshot_history, table_of

    table = table_of(load().platform, dataset)
    loaded = load_table(SETTINGS.home, table.database, table.dataset)
    records = snapshot_history(loaded) if loaded is not None else []
    if as_json:
        print_json([record.to_dict() for record in records])
        return
    if not records:
        err.print(f"table {table.database}.{table.dataset} has no snapshots yet")
        return
    view = Table(
        title=f"{table.database}.{table.dataset} in {SETTINGS.home}", title_justify="left", box=box.SIMPLE_HEAD
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("snapshot", "left"),
        ("committed (UTC)", "left"),
        ("operation", "left"),
        ("run_id", "left"),
        ("sources", "left"),
        ("+rows", "right"),
        ("-rows", "right"),
        ("rows", "right"),
        ("state", "left"),
    )
    for column, justify in columns:
        view.add_column(column, justify=justify, overflow="ellipsis", no_wrap=column in ("snapshot", "run_id"))
    for record in records:
        state = (
            "[green]current[/]" if record.current else ("" if record.in_current_history else "[yellow]rolled back[/]")
        )
        sources = ", ".join(source.get("key", "") for source in record.sources)
        view.add_row(
            str(record.snapshot_id),
            record.committed_at.replace("T", " ").removesuffix("Z"),
            record.operation,
            escape(record.run_id or ""),
            escape(sources),
            str(record.rows_added),
            str(record.rows_removed),
            str(record.total_rows),
            state,
        )
    out.print(view)


def rollback(
    dataset: Annotated[str, typer.Argument(help="Dataset (a silver or gold table of the stack), e.g. sales.")],
    to_run: Annotated[
        str | None,
        typer.Option("--to-run", help="Restore the table as this run committed it (a run id from `lake history`)."),
    ] = None,
    to_snapshot: Annotated[
        int | None, typer.Option("--to-snapshot", help="Restore this snapshot (an id from `lake history`).")
    ] = None,
    last: Annotated[int | None, typer.Option("--last", help="Undo the newest N commits (loads) of the table.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Undo bad loads: the table's current snapshot becomes an earlier one (Iceberg's
    rollback_to_snapshot; nothing is deleted), and the job's ledger follows, so the objects of
    the undone runs are pending again and the next scheduled or manual run processes them.

    Example: lake rollback sales --to-run local-20240601T101500-1a2b3c4d    |    lake rollback sales --last 1
    """
    from data_platform.local.tables import rollback as rollback_table
    from data_platform.local.tables import rollback_target, table_of

    if sum(choice is not None for choice in (to_run, to_snapshot, last)) != 1:
        raise LakeError("give exactly one of --to-run RUN_ID, --to-snapshot SNAPSHOT_ID or --last N", exit_code=2)
    cfg = load().platform
    table = table_of(cfg, dataset)
    target = rollback_target(SETTINGS.home, table, to_run=to_run, to_snapshot=to_snapshot, last=last)
    reporter = Reporter(err)
    with reporter.working(f"Rolling {table.database}.{table.dataset} back to snapshot {target} ..."):
        result = rollback_table(SETTINGS.home, table, target)
    if as_json:
        print_json(result.to_dict())
        return
    out.print(
        f"[green]rolled back[/] {table.database}.{table.dataset}: snapshot {result.from_snapshot} -> "
        f"{result.to_snapshot}"
    )
    out.print(f"  recorded in {escape(rel(str(SETTINGS.home / table.bucket / result.record), SETTINGS.home))}")
    if result.runs:
        out.print(f"  runs undone: {escape(', '.join(result.runs))}")
        keys = sorted({o["key"] for o in result.objects})
        out.print(f"  pending again: {escape(', '.join(keys))}")
        out.print(f"  process them again with: lake run {table.job}")
    downstream = sorted(t.job for t in cfg.after_job.values() if t.upstream == table.job and t.enabled)
    for job in downstream:
        out.print(f"  {job} was computed from the undone data: recompute it with: lake run {job}")


def maintain(
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset to maintain (default: every silver and gold table).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Iceberg's table maintenance, as the stack's maintenance job does it in the cloud:
    rewrite_data_files (compaction), expire_snapshots and remove_orphan_files, with the stack's
    `retention` settings.

    Example: lake maintain    |    lake maintain sales --json
    """
    from data_platform.local.tables import dataset_tables, table_of
    from data_platform.local.tables import maintain as maintain_tables

    cfg = load().platform
    tables = [table_of(cfg, dataset)] if dataset else list(dataset_tables(cfg).values())
    reporter = Reporter(err)
    with reporter.working("Maintaining tables ..."):
        results = maintain_tables(SETTINGS.home, tables, cfg.retention)
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    if not results:
        err.print("no table to maintain yet")
        return
    view = Table(title=f"Maintenance in {SETTINGS.home}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("table", "files rewritten", "files added", "snapshots expired", "files deleted", "orphans removed"):
        view.add_column(column, justify="left" if column == "table" else "right")
    for r in results:
        view.add_row(
            r.table.split(".", 1)[1],
            str(r.rewritten_files),
            str(r.added_files),
            str(r.expired_snapshots),
            str(r.deleted_files),
            str(len(r.orphan_files)),
        )
    out.print(view)
