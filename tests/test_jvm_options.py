"""JVM options of the local session: the class archive (how a session picks it up, and that
its training run exercises the pipeline) and the quick compiler for small uploads."""

from __future__ import annotations

import pytest
from support.etl_lake import LocalLake

from data_platform.local import class_archive
from etl import session


def test_a_session_uses_the_archive_only_when_it_exists(tmp_path, monkeypatch):
    archive = tmp_path / "classes.jsa"
    monkeypatch.delenv(session.CDS_DUMP_ENV, raising=False)
    monkeypatch.setenv(session.CDS_ENV, str(archive))
    assert session._class_sharing_options() == ""
    archive.write_bytes(b"any bytes: the JVM itself rejects a foreign archive (-Xshare:auto)")
    options = session._class_sharing_options()
    assert f"-XX:SharedArchiveFile={archive}" in options and "-Xshare:auto" in options
    monkeypatch.setenv(session.CDS_ENV, "off")
    assert session._class_sharing_options() == ""
    monkeypatch.setenv(session.CDS_DUMP_ENV, str(tmp_path / "out.jsa"))
    assert session._class_sharing_options().startswith(f"-XX:ArchiveClassesAtExit={tmp_path / 'out.jsa'} ")


def test_the_default_archive_lives_in_the_virtualenv(monkeypatch):
    import sys

    monkeypatch.delenv(session.CDS_ENV, raising=False)
    assert session.class_archive_path().startswith(sys.prefix)


@pytest.mark.spark
def test_the_training_run_passes_the_gate_quarantines_one_row_and_writes_silver(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(class_archive.TRAINING_KEY, class_archive.training_csv(rows=40))
    summary = lake.upload_event("sales_etl", spark, class_archive.TRAINING_KEY)
    assert (summary.state, summary.rows_read, summary.rows_written, summary.rows_quarantined) == (
        "SUCCEEDED",
        41,
        40,
        1,
    )
    assert summary.rules_failed == {"quantity_positive": 1}


def test_small_uploads_ask_for_the_quick_compiler_and_big_ones_or_an_explicit_choice_do_not(monkeypatch):
    from data_platform.cli.commands import ingest

    monkeypatch.setenv(session.JIT_ENV, "")  # recorded, so the variable _choose_jit sets is undone
    monkeypatch.delenv(session.JIT_ENV)
    ingest._choose_jit(ingest.QUICK_JIT_MAX_BYTES + 1)
    assert session.JIT_ENV not in session.os.environ and session._jit_options() == ""
    ingest._choose_jit(750_000)
    assert session._jit_options() == "-XX:TieredStopAtLevel=1"
    monkeypatch.setenv(session.JIT_ENV, "default")  # the user's choice wins
    ingest._choose_jit(10)
    assert session._jit_options() == ""
