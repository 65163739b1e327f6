"""Atomic writes: complete or absent, never half-written, with ordinary permissions."""
from __future__ import annotations

import os
import stat

import pytest

from drpkit.atomic import atomic_file, atomic_new_directory, atomic_write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_written_files_and_directories_get_umask_permissions_not_tempfile_private_ones(
        tmp_path, umask_022):
    # tempfile makes 0600 files and 0700 directories; a report or a benchmark result
    # written that way could not be read by the rest of a lab sharing the run folder
    atomic_write_text(tmp_path / "report.html", "<html></html>")
    with atomic_new_directory(tmp_path / "task") as tmp:
        (tmp / "result.json").write_text("{}")
    assert _mode(tmp_path / "report.html") == 0o644
    assert _mode(tmp_path / "task") == 0o755


def test_new_directory_does_not_overwrite_a_finished_one_unless_asked(tmp_path):
    target = tmp_path / "task"
    with atomic_new_directory(target) as tmp:
        (tmp / "result.json").write_text("first")
    with atomic_new_directory(target) as tmp:
        (tmp / "result.json").write_text("second")
    assert (target / "result.json").read_text() == "first"
    with atomic_new_directory(target, replace=True) as tmp:
        (tmp / "result.json").write_text("third")
    assert (target / "result.json").read_text() == "third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task"]


def test_failed_directory_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_new_directory(tmp_path / "run") as tmp:
        (tmp / "model.pt").write_bytes(b"\0" * 10)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
