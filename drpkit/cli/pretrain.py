"""``drpkit pretrain csg2a --lincs DIR --out CKPT``: CSG2A's LINCS pretraining."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drpkit.cli.app import app, parse_params
from drpkit.errors import DataError

PRETRAINABLE = ("csg2a",)


@app.command("pretrain")
def pretrain(model: Annotated[str, typer.Argument(help="Model to pretrain: csg2a.")],
             lincs: Annotated[Path, typer.Option(
                 help="Folder with the LINCS L1000 files of GEO GSE92742 (Level 3 GCTX, "
                      "inst_info, pert_info, gene_info).")],
             out: Annotated[Path, typer.Option(help="Checkpoint folder to write.")],
             dataset: Annotated[str | None, typer.Option(
                 help="Keep the landmark genes this dataset's expression has (the genes "
                      "fine-tuning will read); none = every landmark gene.")] = "gdsc2",
             max_treatments: Annotated[int | None, typer.Option(
                 help="Random subset of treated profiles (memory: genes x 4 bytes each).")
             ] = None,
             param: Annotated[list[str] | None, typer.Option(
                 "--param", "-p", help="Pretraining setting KEY=VALUE (form, ppi, hidden, "
                 "drug_encoder, trainer.lr, ...).")] = None,
             replace: Annotated[bool, typer.Option(
                 "--replace", help="Overwrite an existing checkpoint folder.")] = False,
             seed: Annotated[int, typer.Option(help="Seeds sampling and training.")] = 0,
             ) -> None:
    """Pretrain CSG2A's gene-gene attention block on LINCS perturbation profiles.

    Writes a checkpoint (JSON + safetensors) that fine-tuning takes with
    `-p csg2a:pretrained=CKPT` (benchmark, evaluate) or `-p pretrained=CKPT` (train).
    """
    from pydantic import ValidationError

    from drpkit.data.lincs import read_lincs
    from drpkit.models.csg2a_pretrain import PretrainConfig
    from drpkit.models.csg2a_pretrain import pretrain as run_pretraining
    from drpkit.resources import landmark_genes

    if model not in PRETRAINABLE:
        raise DataError(f"model {model!r} has no pretraining; pretrainable: "
                        f"{', '.join(PRETRAINABLE)}")
    if out.exists() and not replace:
        raise DataError(f"{out} exists; pass --replace to overwrite it")
    try:
        config = PretrainConfig(**{"seed": seed, **parse_params(param)})
    except ValidationError as exc:
        raise DataError(f"invalid pretraining settings: {exc}") from None
    genes = landmark_genes()
    if dataset and dataset.lower() != "none":
        from drpkit.data import load_dataset

        expression = load_dataset(dataset).cell_view("expression")
        genes = [g for g in genes if g in expression.columns]
        typer.echo(f"{len(genes)} landmark genes are in the expression of {dataset}")
    data = read_lincs(lincs, genes, max_treatments=max_treatments, seed=seed)
    typer.echo(f"LINCS: {len(data)} treated profiles, {len(data.basal)} basal groups, "
               f"{len(data.genes)} genes; {json.dumps(data.summary)}")
    meta = run_pretraining(data, out, config, replace=replace)
    typer.echo(f"checkpoint {out}: best validation MSE {meta['best_val_mse']:.4f} "
               f"after {meta['epochs']} epochs ({meta['counts']['compounds']} compounds)")
