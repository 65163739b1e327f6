"""`drpkit predict` with intervals and flags on a user's file: CCLE cell lines GDSC2 lacks.

What a user does with a kept model, end to end through the CLI, on real data:

1. ``drpkit train --split none`` fits a model on every GDSC2 pair but a random validation
   part, with ``uncertainty.method`` set (default: mlp, MC dropout conformalised by its
   sd, so widths differ per pair and the flags single out pairs, not whole drugs);
2. the "user's files" are written from the CCLE dataset of the data mirror: the
   expression of the CCLE cell lines that GDSC2 does not have (new cells), and CCLE's
   drugs with their SMILES (some are GDSC2 drugs, matched by structure or name; the others
   are new to the model);
3. ``drpkit predict RUN --expression cells.csv --drugs drugs.csv --out pred.csv``.

The predictions and their ``.meta.json`` are copied to ``--out-dir`` (committed), with a
``summary.json`` that scores the intervals against the ln IC50 CCLE measured for the same
pairs, by drug novelty and flag. CCLE is another screen (its ln IC50 stop at its top dose,
8 uM; BENCHMARKS.md, uncertainty transfer table), so coverage there measures the shift,
not the method. The user files and the run are written under ``--work`` (not committed:
they are derived from the mirror's data)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_predict_example.py   # ~10 min
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def drpkit(*args: str) -> None:
    """Run the ``drpkit`` CLI of this checkout (the user's path), failing loudly."""
    command = [sys.executable, "-m", "drpkit", *args]
    print("$ drpkit " + " ".join(args), flush=True)
    subprocess.run(command, check=True, cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def write_user_files(work: Path):
    """The user's expression and drug files from CCLE; returns (cells, drugs, CCLE responses)."""
    from drpkit.data import load_dataset

    gdsc2, ccle = load_dataset("gdsc2"), load_dataset("ccle")
    expression = ccle.cell_view("expression")
    new_cells = sorted(set(expression.index) - set(gdsc2.cell_view("expression").index))
    work.mkdir(parents=True, exist_ok=True)
    expression.loc[new_cells].rename_axis("cell").to_csv(work / "cells.csv")
    ccle.smiles.rename_axis("drug").rename("smiles").reset_index().to_csv(
        work / "drugs.csv", index=False)
    return new_cells, list(ccle.smiles.index), ccle.responses


def summarise(pred, responses) -> dict:
    """Coverage of CCLE's measured ln IC50 by the intervals, per drug novelty (the
    prediction's own ``new_drug`` column) and flag."""
    scored = pred.merge(responses[["cell", "drug", "value"]].rename(columns={"value": "observed"}),
                        on=["cell", "drug"], how="left")
    scored["inside"] = (scored["observed"] >= scored["value_lo"]) & \
        (scored["observed"] <= scored["value_hi"])
    scored["width"] = scored["value_hi"] - scored["value_lo"]
    out = {"pairs": len(pred), "cells": int(pred["cell"].nunique()),
           "drugs": int(pred["drug"].nunique()), "flagged": int(pred["flag_uncertain"].sum()),
           "groups": []}
    for (new_drug, flag), part in scored.groupby(["new_drug", "flag_uncertain"]):
        measured = part.dropna(subset=["observed"])
        out["groups"].append({
            "drug": "new drug" if new_drug else "training drug", "flagged": bool(flag),
            "pairs": len(part), "mean width": round(float(part["width"].mean()), 3),
            "measured pairs": len(measured),
            "coverage": round(float(measured["inside"].mean()), 4) if len(measured) else None,
            "mean abs error": round(float((measured["value"] - measured["observed"]).abs()
                                          .mean()), 3) if len(measured) else None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--params", nargs="*",
                        default=["uncertainty.method=mc-dropout"],
                        help="-p settings of the kept model")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "predict_example")
    parser.add_argument("--out-dir", type=Path,
                        default=ROOT / "benchmarks" / "results" / "predict_example")
    args = parser.parse_args()

    import pandas as pd

    from drpkit.runs import package_versions

    run = args.work / f"{args.model}-gdsc2-none"
    if not (run / "config.json").exists():
        params = [item for setting in args.params for item in ("-p", setting)]
        drpkit("train", "--dataset", "gdsc2", "--model", args.model, "--split", "none",
               *params, "--out", str(run))
    trained = json.loads((run / "metrics.json").read_text())
    cells, drugs, responses = write_user_files(args.work)
    pred_path = args.work / "pred.csv"
    drpkit("predict", str(run), "--expression", str(args.work / "cells.csv"),
           "--drugs", str(args.work / "drugs.csv"), "--out", str(pred_path))
    pred = pd.read_csv(pred_path)
    meta = json.loads((args.work / "pred.meta.json").read_text())
    for key in ("run", "predictions"):  # paths relative to the checkout, not this machine's
        meta[key] = os.path.relpath(meta[key], ROOT)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(pred_path, args.out_dir / "pred.csv")
    (args.out_dir / "pred.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    summary = {"model": args.model, "params": args.params, "train": "gdsc2, split none",
               "user cells": cells, "user drugs": drugs, **summarise(pred, responses),
               "validation metrics": {k: round(trained[k], 4) for k in
                                      ("pcc", "rmse", "drug_pcc_mean")
                                      if k in trained},
               "train seconds": trained["seconds"],
               "threads": json.loads((run / "config.json").read_text())["threads"],
               "date": time.strftime("%Y-%m-%d %H:%M"),
               "versions": package_versions()}
    (args.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "versions"}, indent=2))


if __name__ == "__main__":
    main()
