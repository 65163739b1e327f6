"""The :class:`Resource` base class and the ``RESOURCES`` registry.

A resource is prior knowledge that sits next to the datasets: a gene-gene
graph, drug-target interactions, gene sets, a gene list, a pretrained
molecular encoder. Like a dataset it is named, built only from registered,
sha256-checked source files (``drpkit.data.catalog``), cached, listed by
``drpkit data list`` and described by ``drpkit data info NAME [--dataset D]``.

Each resource says which source files it needs (so ``data list`` can show
whether it is cached), loads once per process (``load()`` memoises), and
reports counts and, given a dataset, how much of the dataset's genes or drugs
it covers (``info()``), so a user sees before training what a graph or
target table actually adds.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from drpkit.data.sources import SOURCES
from drpkit.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.data.container import DrugResponseData


class Resource:
    """A named, hash-checked, cached piece of prior knowledge.

    Subclasses set the class attributes and implement :meth:`_load` and
    :meth:`_info`.

    Attributes:
        name: registry name (``ppi``, ``dti``...).
        description: one line for ``drpkit data list``.
        licence: the terms of every source the resource uses.
        files: ``(source, file key)`` pairs of ``drpkit.data.SOURCES`` it reads.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    files: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self) -> None:
        self._loaded: Any = None

    # ------------------------------------------------------------ sources
    @property
    def sources(self) -> list[str]:
        """Names of the sources behind the resource, in order, without repeats."""
        return list(dict.fromkeys(source for source, _ in self.files))

    def path(self, source: str, key: str) -> Path:
        """Verified local path of one file (fetched and sha256-checked if needed)."""
        return SOURCES.get(source).path(key)

    def is_cached(self) -> bool:
        """Whether every file the resource needs is in the local cache."""
        return all(SOURCES.get(s).cached_path(k).exists() for s, k in self.files)

    def fetch(self) -> list[Path]:
        """Fetch and verify every file the resource needs."""
        return [self.path(source, key) for source, key in self.files]

    # ------------------------------------------------------------ loading
    def load(self) -> Any:
        """The parsed resource, built from verified files once per process."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def clear(self) -> None:
        """Forget the per-process copy (the next :meth:`load` reads the files again)."""
        self._loaded = None

    def _load(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # --------------------------------------------------------------- info
    def info(self, dataset: DrugResponseData | None = None) -> dict[str, Any]:
        """Counts, and with ``dataset`` its coverage of the dataset's genes or drugs.

        Returns:
            an ordered, flat ``{label: value}`` dict, printed line by line by
            ``drpkit data info``; it starts with the resource's name, sources and
            licence.
        """
        out: dict[str, Any] = {"resource": self.name, "sources": ", ".join(self.sources),
                               "licence": self.licence}
        out.update(self._info(dataset))
        return out

    def _info(self, dataset: DrugResponseData | None) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


RESOURCES: Registry[Resource] = Registry("resource")


def expression_genes(dataset: DrugResponseData) -> list[str]:
    """The gene symbols of a dataset's expression view (empty if it has none)."""
    view = dataset.cell_views.get("expression")
    return [] if view is None else [str(g) for g in view.columns]


def percent(part: int, whole: int) -> str:
    """``'495 of 6163 (8.0%)'``: the shape every coverage line takes."""
    share = 100.0 * part / whole if whole else 0.0
    return f"{part} of {whole} ({share:.1f}%)"

