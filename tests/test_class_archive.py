"""The JVM class archive: how a session picks it up, and that its training run exercises the
pipeline (gate, quarantine, write) rather than failing early on its own input."""

from __future__ import annotations

import pytest

from data_platform.local import class_archive
from etl import session
from etl.testing import LocalLake


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
    assert (summary.state, summary.rows_read, summary.rows_written, summary.rows_quarantined) == ("SUCCEEDED", 41, 40, 1)
    assert summary.rules_failed == {"quantity_positive": 1}
