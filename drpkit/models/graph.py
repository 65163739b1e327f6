"""The shared scaffold of the cell-drug graph models (NIHGCN/MTIGCN, HGACL-DRP).

Every graph model of drpkit trains on one graph whose nodes are cell lines and
drugs and whose response edges are the *training* sensitive pairs. What they
share lives here, once: the node sets, the (cell, drug) -> node index lookup,
the response edges, the validation monitor, predict-time node extension and
the saved graph state. A model adds its features, its network and its loss.

**Node modes** (``config.nodes``), named in every result table:

* ``inductive`` (the default): the nodes are the training part's cells and
  drugs only. Nothing of a held-out cell or drug takes part in training: not
  BatchNorm statistics, similarity targets, reliable-neighbour candidates,
  contrastive terms or the compression basis. Validation and test cells and
  drugs join the fitted graph from their features when they are scored, as a
  user's new cell line does after training (they bring no response edge, and
  joining changes no fitted node's embedding).
* ``transductive`` (the papers' setting): every cell of the dataset's cell
  features and every drug of its drug features is a node during training,
  held-out ones with features but without response edges.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from drpkit.data.container import DrugResponseData
from drpkit.data.ids import extend_ids, require_ids
from drpkit.errors import DataError
from drpkit.evaluate.metrics import auroc
from drpkit.models.base import EarlyStoppingModel, ModelConfig
from drpkit.train import save_weights

NodeMode = Literal["inductive", "transductive"]


class GraphConfig(ModelConfig):
    """Settings every graph model has.

    Attributes:
        n_genes: keep the most variable expression genes among training cells;
            None = all.
        drug_fingerprint: drug view; ``auto`` = the dataset's ``pubchem920``
            view when present, else ``pubchem`` (881 bits from SMILES).
        nodes: ``inductive`` = only the training part's cells and drugs are
            nodes while training (held-out ones join from their features when
            scored); ``transductive`` = every cell and drug of the dataset's
            features is a node, held-out ones without response edges (the
            papers' setting).
        compress_inputs: train the wide input layer on the row space of the
            node features (:mod:`drpkit.nn.lowrank`: same initial function, far
            less work, but Adam takes another path than without it).
    """

    n_genes: int | None = Field(default=None, ge=1)
    drug_fingerprint: str = "auto"
    nodes: NodeMode = "inductive"
    compress_inputs: bool = True


def fingerprint_name(setting: str, data: DrugResponseData) -> str:
    """``auto`` -> the stored ``pubchem920`` view when present, else ``pubchem``."""
    if setting != "auto":
        return setting
    return "pubchem920" if "pubchem920" in data.drug_views else "pubchem"


class PairMonitor:
    """The validation score early stopping follows: AUROC of the validation
    pairs when they hold both classes, else their binary cross-entropy."""

    def __init__(self, labels: Tensor):
        self.labels = labels
        self.y = labels.detach().cpu().numpy()
        both = len(np.unique(self.y)) == 2
        self.monitor = "val_auroc" if both else "val_bce"
        self.mode: Literal["min", "max"] = "max" if both else "min"

    def __call__(self, logits: Tensor) -> dict[str, float]:
        out = {"val_bce": float(F.binary_cross_entropy_with_logits(logits, self.labels))}
        if self.monitor == "val_auroc":
            out["val_auroc"] = auroc(self.y, logits.detach().cpu().numpy())
        return out


class GraphModel(EarlyStoppingModel):
    """Node sets, pair indices, response edges and graph state of a graph model.

    Fitted attributes:
        cells_, drugs_: node ids (arrays of str) of the fitted graph, in node order.
        edge_index_: (2, E) int64 node indices of the training sensitive pairs.
    """

    config: GraphConfig
    module_: torch.nn.Module  # the fitted network; subclasses narrow the annotation

    # ------------------------------------------------------------ checks
    def _require_labels(self, train: DrugResponseData, val: DrugResponseData | None) -> None:
        if val is not None and not val.responses["label"].notna().any():
            raise DataError(f"model {self.name!r} needs a validation part with labels for "
                            "early stopping")
        if not (train.responses["label"] == 1).any():
            raise DataError(f"model {self.name!r} needs sensitive training pairs (label 1)")

    # --------------------------------------------------------------- nodes
    def _fit_nodes(self, train: DrugResponseData, val: DrugResponseData | None,
                   cell_ids: pd.Index, drug_ids: pd.Index, drug_view: str) -> None:
        """Set ``cells_`` / ``drugs_`` for the node mode.

        Args:
            train, val: the fold's parts.
            cell_ids, drug_ids: ids of the dataset's cell and drug features
                (transductive mode makes all of them nodes).
            drug_view: name of the drug features, for error messages.
        """
        parts = [train.responses] if val is None else [train.responses, val.responses]
        for side, ids, view in (("cell", cell_ids, "expression"), ("drug", drug_ids, drug_view)):
            seen = np.unique(np.concatenate([p[side].astype(str).unique() for p in parts]))
            require_ids(seen, ids, side, f"view {view!r}")
        if self.config.nodes == "transductive":
            self.cells_ = np.asarray(cell_ids, dtype=str)
            self.drugs_ = np.asarray(drug_ids, dtype=str)
        else:
            self.cells_ = np.sort(np.asarray(train.responses["cell"].unique(), dtype=str))
            self.drugs_ = np.sort(np.asarray(train.responses["drug"].unique(), dtype=str))

    def extended_nodes(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The fitted nodes followed by the cells and drugs of ``pairs`` that are
        not among them (they join the graph from their features, without edges)."""
        return (extend_ids(self.cells_, pairs["cell"].astype(str).unique()),
                extend_ids(self.drugs_, pairs["drug"].astype(str).unique()))

    @staticmethod
    def pair_index(frame: pd.DataFrame, cells: np.ndarray, drugs: np.ndarray) -> np.ndarray:
        """(2, P) int64 node indices of ``frame``'s (cell, drug) pairs among ``cells``
        and ``drugs`` (every pair's nodes must be there)."""
        index = np.stack([pd.Index(cells).get_indexer(frame["cell"].astype(str)),
                          pd.Index(drugs).get_indexer(frame["drug"].astype(str))]).astype(np.int64)
        if (index < 0).any():
            raise DataError("a pair's cell or drug is not a node of the graph")
        return index

    def _fit_edges(self, train: DrugResponseData) -> None:
        """``edge_index_``: the training sensitive pairs among the fitted nodes."""
        r = train.responses
        self.edge_index_ = self.pair_index(r[r["label"] == 1], self.cells_, self.drugs_)

    @property
    def edges(self) -> pd.DataFrame:
        """The response edges of the fitted graph as (cell, drug) ids."""
        return pd.DataFrame({"cell": self.cells_[self.edge_index_[0]],
                             "drug": self.drugs_[self.edge_index_[1]]})

    # --------------------------------------------------------------- state
    def graph_arrays(self) -> dict[str, np.ndarray]:
        """The graph's part of the saved state (plain arrays, no pickle)."""
        return {"cells": self.cells_, "drugs": self.drugs_, "edge_index": self.edge_index_}

    def load_graph_arrays(self, state) -> None:
        """Restore what :meth:`graph_arrays` saved."""
        self.cells_, self.drugs_ = state["cells"], state["drugs"]
        self.edge_index_ = state["edge_index"].astype(np.int64)

    def save_graph_model(self, directory: Path, state_file: str, arrays: dict[str, Any],
                         weights_meta: dict | None = None) -> None:
        """Write the graph and ``arrays`` (``.npz``, no pickle), the network's
        weights (safetensors) and the training history."""
        # numpy's stubs read a **dict of arrays as possibly setting allow_pickle
        np.savez(directory / state_file, **self.graph_arrays(), **arrays)  # type: ignore[arg-type]
        save_weights(self.module_, directory, weights_meta)
        (directory / "history.json").write_text(json.dumps(self.history_.to_dict()))

    @contextmanager
    def open_graph_state(self, directory: Path, state_file: str) -> Iterator[Any]:
        """Restore the graph from ``state_file`` and yield the arrays for the
        model's own fields (the file stays open inside the block)."""
        path = directory / state_file
        if not path.exists():
            raise DataError(f"{directory}: no {state_file}")
        with np.load(path, allow_pickle=False) as state:
            self.load_graph_arrays(state)
            yield state


def labelled_pairs(part: DrugResponseData | None) -> pd.DataFrame:
    """The labelled rows of a part's responses (empty frame for None)."""
    if part is None:
        return pd.DataFrame({"cell": [], "drug": [], "label": []})
    r = part.responses
    return r[r["label"].notna()]


def as_tensor(values: np.ndarray) -> Tensor:
    """float32 tensor of a NumPy array (labels, targets)."""
    return torch.tensor(np.asarray(values, dtype=np.float32))
