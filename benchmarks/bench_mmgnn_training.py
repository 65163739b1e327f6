"""How mmgnn's optimiser and drug encoder shaped a fit: validation loss, attention size.

For each ``drpkit train`` run of mmgnn given, appends one JSON line to ``--out`` with the
drug encoder, optimiser and weight decay the run resolved (``config.json``), its best
validation loss and epoch (the training history in ``model/mmgnn.json``), the test metrics
(``metrics.json``), and the Frobenius norms of the drug -> cell attention's query and key
projections and of the gene-set embeddings (``model/weights.safetensors``). Norms near 0
mark the collapse that Adam's L2 penalty caused (BENCHMARKS.md, "mmgnn on one GDSC2
fold"); the validation loss is what a choice between settings may read. The ablations
without cross-attention or without pathway tokens have no such weights (norm None,
"–" in the table). Example (the BENCHMARKS.md rows)::

    .venv/bin/python benchmarks/bench_mmgnn_training.py runs/mmgnn_gdsc2_f0_small \\
        runs/mmgnn_gdsc2_f0_small_adamw runs/mmgnn_gdsc2_f0_small_wd0 \\
        runs/mmgnn_gdsc2_cellblind_f0_small runs/mmgnn_gdsc2_drugblind_f0_small \\
        runs/mmgnn_gdsc2_drugblind_f0_small_molenc runs/mmgnn_gdsc2_f0_small_concat \\
        runs/mmgnn_gdsc2_f0_small_no_pathways
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import append_row

ATTENTION = "drug_to_cell.attention.in_proj_weight"  # rows: query, key, value projections
SET_EMBEDDING = "pathways.set_embedding"


def run_row(run: Path) -> dict:
    """The JSON line of one run (raises SystemExit naming the run when it is not mmgnn's)."""
    from safetensors.torch import load_file

    config = json.loads((run / "config.json").read_text())
    if config.get("model") != "mmgnn":
        raise SystemExit(f"{run}: not an mmgnn run (model {config.get('model')!r})")
    history = json.loads((run / "model" / "mmgnn.json").read_text())["history"]
    metrics = json.loads((run / "metrics.json").read_text())
    weights = load_file(run / "model" / "weights.safetensors")
    params, trainer = config["params"], config["params"]["trainer"]
    # the ablations lack the attention (cross_attention=false) or the gene-set
    # embeddings (pathway_tokens=false): their norms are recorded as None
    projection = weights.get(ATTENTION)
    third = projection.shape[0] // 3 if projection is not None else 0

    def norm(weight) -> float | None:
        return None if weight is None else round(float(weight.norm()), 3)

    return {"run": str(run), "model": "mmgnn", "split": metrics["split"],
            "fold": metrics["fold"], "seed": metrics["seed"],
            "drug_encoder": params["drug_encoder"],
            "cross_attention": params.get("cross_attention", True),
            "pathway_tokens": params.get("pathway_tokens", True),
            "optimizer": trainer.get("optimizer", "adam"),
            "weight_decay": trainer["weight_decay"],
            "best_val_loss": round(history["best_score"], 5),
            "best_epoch": history["best_epoch"] + 1, "epochs": history["epochs_run"],
            "query_norm": norm(None if projection is None else projection[:third]),
            "key_norm": norm(None if projection is None else projection[third:2 * third]),
            "set_embedding_norm": norm(weights.get(SET_EMBEDDING)),
            **{k: round(float(metrics[k]), 4) for k in ("pcc", "rmse", "drug_pcc_mean")},
            "seconds": round(float(metrics["seconds"]), 1),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="`drpkit train` runs of mmgnn")
    parser.add_argument("--out", default="benchmarks/results/mmgnn_training_gdsc2.jsonl")
    args = parser.parse_args()
    for run in args.runs:
        append_row(args.out, run_row(run))


if __name__ == "__main__":
    main()
