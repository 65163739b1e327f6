"""``drpkit train / evaluate / benchmark / report / predict``: running models."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, cast

import typer

from drpkit.cli.app import (
    DatasetOpt,
    DrugsOpt,
    ExpressionOpt,
    ImputeOpt,
    LabelsOpt,
    MeasureOpt,
    OnMissingOpt,
    ParamOpt,
    ResponsesOpt,
    _csv_list,
    _echo_record,
    _spec,
    app,
    parse_model_params,
    parse_params,
)
from drpkit.errors import DataError


# --------------------------------------------------------------------- train
@app.command("train")
def train(model: Annotated[str, typer.Option("--model", "-m", help="Model name (drpkit models).")],
          out: Annotated[Path, typer.Option(help="Run directory to create.")],
          dataset: DatasetOpt = None, measure: MeasureOpt = None, labels: LabelsOpt = None,
          responses: ResponsesOpt = None, expression: ExpressionOpt = None,
          drugs: DrugsOpt = None, on_missing: OnMissingOpt = "error", impute: ImputeOpt = "none",
          split: Annotated[str, typer.Option(
              help="Split kind, or 'none' to train on every pair but a random validation "
                   "part (a model to keep for `drpkit predict`; no test part).")] = "random",
          fold: Annotated[int, typer.Option(help="Which fold is the test part.")] = 0,
          folds: Annotated[int, typer.Option(help="Number of folds.")] = 5,
          seed: Annotated[int, typer.Option(help="Split and model seed.")] = 0,
          param: ParamOpt = None,
          overwrite: Annotated[bool, typer.Option(help="Replace an existing run.")] = False,
          ) -> None:
    """Train one model on one fold, or on every pair with --split none.

    Writes config, metrics, predictions, the training cells' expression
    statistics (for `drpkit predict`) and the model."""
    import torch

    from drpkit.data.reference import expression_reference
    from drpkit.experiment import run_fold, run_trial
    from drpkit.models import MODELS
    from drpkit.predict import REFERENCE_FILE
    from drpkit.runs import atomic_directory, package_versions, write_json
    from drpkit.splits import SPLITS, holdout_fold, make_folds

    MODELS.get(model)
    if split != "none":
        SPLITS.get(split)
    spec = _spec(dataset, measure, labels, responses, expression, drugs, on_missing, impute)
    params = {"seed": seed, **parse_params(param)}
    data = spec.load()
    _echo_record(data)
    if split == "none":
        chosen, scored_on = holdout_fold(data, seed), "validation"
    else:
        all_folds = make_folds(data, split, folds, seed)
        if not 0 <= fold < len(all_folds):
            raise DataError(f"--fold {fold} out of range 0..{len(all_folds) - 1}")
        chosen, scored_on = all_folds[fold], "test"
    with atomic_directory(out, overwrite=overwrite) as tmp:
        runner = run_trial if split == "none" else run_fold
        result = runner(data, model, chosen, params)
        result.fitted.save(tmp / "model")
        result.predictions.to_csv(tmp / "predictions.csv", index=False)
        write_json(tmp / "metrics.json", {**result.row(), "scored_on": scored_on})
        if "expression" in data.cell_views:
            train_cells = data.responses["cell"].iloc[chosen.train].unique()
            expression_reference(data.cell_view("expression"), train_cells).to_parquet(
                tmp / REFERENCE_FILE)
        write_json(tmp / "config.json", {
            "model": model, "params": result.fitted.config.model_dump(mode="json"),
            "data": spec.model_dump(), "split": split, "fold": fold, "folds": folds,
            **({"user_files": data.record.as_dict()} if data.record else {}),
            "seed": seed, "threads": torch.get_num_threads(), "versions": package_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    metrics = result.row()
    keys = ["pcc", "rmse", "drug_pcc_mean", "pcc_norm", "auroc", "seconds"]
    where = "validation part, no test part" if split == "none" else f"{split}, fold {fold}"
    typer.echo(f"{model} on {data.name} ({where}): " + ", ".join(
        f"{k}={metrics[k]:.3f}" for k in keys if k in metrics))
    typer.echo(f"run written to {out}")


# ------------------------------------------------------------------ evaluate
@app.command("evaluate")
def evaluate(models: Annotated[str, typer.Option(help="Comma-separated model names.")],
             splits: Annotated[str, typer.Option(help="Comma-separated split kinds.")] = "random",
             dataset: DatasetOpt = None, measure: MeasureOpt = None, labels: LabelsOpt = None,
             responses: ResponsesOpt = None, expression: ExpressionOpt = None,
             drugs: DrugsOpt = None, on_missing: OnMissingOpt = "error",
             impute: ImputeOpt = "none",
             folds: Annotated[int, typer.Option(help="k of k-fold CV.")] = 5,
             seed: Annotated[list[int] | None, typer.Option(
                 help="Seed(s); repeat for several.")] = None,
             param: Annotated[list[str] | None, typer.Option(
                 "--param", "-p", help="Hyperparameter KEY=VALUE for every model, or "
                 "MODEL:KEY=VALUE for one (JSON values, dotted nested keys). Repeatable.")]
             = None,
             out: Annotated[Path, typer.Option(
                 help="Run directory (the same store as `drpkit benchmark`; an existing one "
                      "is resumed).")] = Path("runs/evaluate"),
             overwrite: Annotated[bool, typer.Option(
                 help="Start afresh: remove an existing run directory first.")] = False,
             workers: Annotated[int | None, typer.Option(
                 help="Tasks at once (default: cores // threads).")] = None,
             ) -> None:
    """k-fold cross-validation of models under split kinds: a grid on one dataset.

    Writes the same run directory as `drpkit benchmark` (per-task results,
    tasks.csv, leaderboards, report.html) and prints each split's leaderboard.
    """
    import shutil

    from drpkit.experiment.executors import run_grid
    from drpkit.experiment.grid import GridConfig
    from drpkit.experiment.store import CONFIG_FILE
    from drpkit.report import build_report

    model_names, split_names = _csv_list(models), _csv_list(splits)
    spec = _spec(dataset, measure, labels, responses, expression, drugs, on_missing, impute)
    if spec.responses:  # your files: their matching report, and their errors before any task
        from drpkit.experiment.crossval import require_values
        from drpkit.models import create_model

        data = spec.load()
        _echo_record(data)
        for name in model_names:
            require_values(create_model(name), data)
    grid = GridConfig.build({
        "name": f"evaluate: {', '.join(model_names)}", "datasets": [spec],
        "models": model_names, "splits": split_names, "folds": folds, "seeds": seed or [0],
        "params": parse_model_params(param, model_names), "workers": workers}).check()
    if overwrite and out.exists():
        if not (out / CONFIG_FILE).exists():
            raise DataError(f"{out} exists and is not a drpkit run directory; not removing it")
        shutil.rmtree(out)
    outcome = run_grid(grid, out, log=typer.echo)
    typer.echo(f"{outcome.finished} task(s) run, {outcome.skipped} kept from an earlier run, "
               f"{len(outcome.failed)} failed, {outcome.seconds:.0f} s; results in {out}")
    for task_id, error in outcome.failed.items():
        typer.echo(f"  failed: {task_id}: {error}", err=True)
    if outcome.finished + outcome.skipped:
        path = build_report(out)
        typer.echo("\n" + leaderboards_markdown(out))
        typer.echo(f"report: {path}")
    if outcome.failed:
        raise typer.Exit(1)


def leaderboards_markdown(run_dir: Path) -> str:
    """Each (dataset, split) leaderboard of a run as Markdown (the report's tables)."""
    from drpkit.report.run import ReportRun
    from drpkit.report.tables import build_leaderboards, markdown

    run = ReportRun(run_dir)
    boards = build_leaderboards(run)
    return markdown(run.grid.get("name", "leaderboards"), [b.tables()[0] for b in boards])


# ----------------------------------------------------------------- benchmark
@app.command("benchmark")
def benchmark(config: Annotated[Path | None, typer.Argument(
                  help="Grid config, TOML or YAML (flags below override its entries).")] = None,
              out: Annotated[Path, typer.Option(
                  help="Run directory; an existing one is resumed (finished tasks are kept)."
              )] = Path("runs/benchmark"),
              models: Annotated[str | None, typer.Option(help="Comma-separated models.")] = None,
              datasets: Annotated[str | None, typer.Option(
                  help="Comma-separated built-in datasets.")] = None,
              splits: Annotated[str | None, typer.Option(help="Comma-separated split kinds.")]
              = None,
              folds: Annotated[int | None, typer.Option(help="k of k-fold CV.")] = None,
              only_folds: Annotated[str | None, typer.Option(
                  help="Run only these folds of the k (comma-separated, from 0).")] = None,
              seed: Annotated[list[int] | None, typer.Option(
                  help="Seed(s); repeat for several.")] = None,
              param: Annotated[list[str] | None, typer.Option(
                  "--param", "-p", help="MODEL:KEY=VALUE or KEY=VALUE (every model); added to "
                  "the config's params. Repeatable.")] = None,
              executor: Annotated[str | None, typer.Option(help="local or ray.")] = None,
              workers: Annotated[int | None, typer.Option(
                  help="Tasks at once (default: cores // threads).")] = None,
              threads: Annotated[int | None, typer.Option(help="Threads per task.")] = None,
              ray_address: Annotated[str | None, typer.Option(
                  help="Ray cluster address (default: start a local Ray instance).")] = None,
              report: Annotated[bool, typer.Option(help="Write the HTML report at the end.")]
              = True,
              ) -> None:
    """Run a benchmark grid: models x datasets x splits x folds x seeds (+ transfer).

    Each task's result is stored as it finishes; run the same command again to
    resume a stopped run. A failed task is reported and the others go on.
    """
    from drpkit.experiment.executors import run_grid
    from drpkit.experiment.grid import GridConfig
    from drpkit.params import deep_merge

    flags = {"models": _csv_list(models) if models else None,
             "datasets": _csv_list(datasets) if datasets else None,
             "splits": _csv_list(splits) if splits else None, "folds": folds, "seeds": seed,
             "only_folds": _fold_list(only_folds),
             "executor": executor, "workers": workers, "threads": threads,
             "ray_address": ray_address}
    grid = GridConfig.from_file(config, **flags) if config else GridConfig.build(
        {k: v for k, v in flags.items() if v is not None})
    if param:
        extra = parse_model_params(param, grid.models)
        grid = grid.model_copy(update={"params": {
            name: deep_merge(grid.params.get(name, {}), extra.get(name, {}))
            for name in {*grid.params, *extra}}})
    outcome = run_grid(grid, out, log=typer.echo)
    typer.echo(f"{outcome.finished} task(s) run, {outcome.skipped} kept from an earlier run, "
               f"{len(outcome.failed)} failed, {outcome.seconds:.0f} s; results in {out}")
    for task_id, error in outcome.failed.items():
        typer.echo(f"  failed: {task_id}: {error}", err=True)
    _echo_transfer_matching(grid, out)
    if report and outcome.finished + outcome.skipped:
        from drpkit.report import build_report
        from drpkit.report.console import console_leaderboard

        path = build_report(out)
        typer.echo("\n" + console_leaderboard(out / "leaderboard.csv") + "\n")
        typer.echo(f"report: {path}")
    if outcome.failed:
        raise typer.Exit(1)


def _fold_list(value: str | None) -> list[int] | None:
    """``"0,1"`` -> ``[0, 1]``; DataError naming a part that is not a fold number."""
    if value is None:
        return None
    try:
        return [int(v) for v in _csv_list(value)]
    except ValueError:
        raise DataError(f"--only-folds {value!r}: expected fold numbers such as 0,1") from None


def _echo_transfer_matching(grid, out: Path) -> None:
    """Each transfer pair's matching report, from its first finished task."""
    from drpkit.experiment.grid import dataset_label
    from drpkit.experiment.store import RunStore

    store, shown = RunStore(out), set()
    done = store.done()
    for task in grid.tasks():
        if task.kind != "transfer" or task.id not in done or task.target is None:
            continue
        pair = f"{dataset_label(task.data)} -> {dataset_label(task.target)}"
        lines = store.result(task.id).get("matching_lines", [])
        if pair not in shown and lines:
            shown.add(pair)
            typer.echo(f"\ntransfer {pair}, matching:")
            for line in lines:
                typer.echo(f"  {line}")


@app.command("report")
def report_command(run: Annotated[Path, typer.Argument(help="Run directory of `drpkit benchmark`.")],
                   out: Annotated[Path | None, typer.Option(
                       help="HTML file to write (default RUN/report.html).")] = None) -> None:
    """Self-contained HTML report (leaderboards, significance, figures) and
    Markdown/CSV leaderboards of a benchmark run."""
    from drpkit.report import build_report

    typer.echo(f"report: {build_report(run, out)}")


# ------------------------------------------------------------------- predict
@app.command("predict")
def predict(run: Annotated[Path, typer.Argument(help="Run directory from `drpkit train`.")],
            out: Annotated[Path, typer.Option(
                help="CSV file for the predictions (a .meta.json beside it records how).")],
            expression: ExpressionOpt = None, drugs: DrugsOpt = None,
            pairs: Annotated[Path | None, typer.Option(
                help="Optional table of cell, drug pairs to score.")] = None,
            missing_genes: Annotated[str, typer.Option(
                help="Genes the model reads that the expression file lacks: 'impute' (training "
                     "mean) or 'error'.")] = "impute",
            max_missing: Annotated[float, typer.Option(
                help="Refuse when more than this share of the model's genes is missing.")] = 0.2,
            standardise: Annotated[str, typer.Option(
                help="'none', or 'within': z-score each gene within the file and map it onto "
                     "the training cells' mean and sd (for files on another scale).")] = "none",
            on_missing: Annotated[str, typer.Option(
                help="Pairs whose cell has no expression (file or training data) or whose drug "
                     "is unknown: 'error' or 'drop' (counted).")] = "error",
            impute: Annotated[str, typer.Option(
                help="Missing values in the expression file: 'none' (an error) or 'median' "
                     "(the training cells' median of the gene, counted).")] = "none",
            ) -> None:
    """Predict with a trained run for new cells (expression) and/or new drugs (SMILES).

    Without --pairs, every given cell is paired with every given drug; cells
    or drugs not given are taken from the training dataset. Missing genes are
    imputed (and counted), a file on another scale is flagged, drugs that are
    training drugs under another name are matched by structure or name, and a
    non-finite prediction is an error (exit code 2, nothing written).
    """
    from drpkit.atomic import atomic_file
    from drpkit.predict import MissingGenes, Standardise, match_summary, predict_run
    from drpkit.runs import write_json

    if missing_genes not in ("impute", "error"):
        raise DataError(f"--missing-genes must be 'impute' or 'error', got {missing_genes!r}")
    if standardise not in ("none", "within"):
        raise DataError(f"--standardise must be 'none' or 'within', got {standardise!r}")
    if out.is_dir():
        raise DataError(f"--out {out}: is a directory; give the CSV file to write, e.g. "
                        f"{out / 'predictions.csv'}")
    # both checked just above (the options are plain strings for typer)
    outcome = predict_run(run, expression, drugs, pairs,
                          missing_genes=cast(MissingGenes, missing_genes),
                          max_missing=max_missing, standardise=cast(Standardise, standardise),
                          on_missing=on_missing, impute=impute)
    for line in match_summary(outcome.report):
        typer.echo(line)
    for warning in outcome.warnings:
        typer.echo(f"warning: {warning}", err=True)
    meta = out.with_name(out.stem + ".meta.json") if out.suffix else \
        out.with_name(out.name + ".meta.json")
    with atomic_file(out) as tmp:
        outcome.predictions.to_csv(tmp, index=False)
    with atomic_file(meta) as tmp:
        write_json(tmp, {**outcome.report, "predictions": str(out)})
    typer.echo(f"{len(outcome.predictions)} predictions ({outcome.report['model']}) written to "
               f"{out} (how: {meta})")


# ------------------------------------------------------------------ transfer
@app.command("transfer")
def transfer(model: Annotated[str, typer.Option(
                 "--model", "-m", help="Model name (drpkit models).")],
             out: Annotated[Path, typer.Option(help="Run directory to create.")],
             source: Annotated[str, typer.Option(help="Built-in dataset to train on.")] = "gdsc2",
             dataset: Annotated[str | None, typer.Option(
                 "--dataset", "-d", help="A built-in target instead of your files.")] = None,
             measure: MeasureOpt = None, labels: LabelsOpt = None,
             responses: ResponsesOpt = None, expression: ExpressionOpt = None,
             drugs: DrugsOpt = None, on_missing: OnMissingOpt = "error",
             impute: ImputeOpt = "none",
             seed: Annotated[int, typer.Option(help="Validation part and model seed.")] = 0,
             param: ParamOpt = None,
             overwrite: Annotated[bool, typer.Option(help="Replace an existing run.")] = False,
             ) -> None:
    """Train on a built-in dataset and score every pair of another: your files
    (--responses; label-only works) or a built-in (--dataset).

    Target cells without expression of their own that the source has borrow its
    (standardised) expression, target drugs match source drugs by structure or
    name, and the matching is printed. Scores: overall, per drug and per cell
    (AUROC, AUPRC, MCC against labels; PCC against values when the target has
    them). Writes config.json, metrics.json, predictions.csv (your spellings in
    cell_given, drug_given), per_drug.csv and per_cell.csv.
    """
    from drpkit.data import load_dataset
    from drpkit.experiment.transfer import group_tables, run_transfer
    from drpkit.models import MODELS
    from drpkit.runs import atomic_directory, package_versions, write_json

    MODELS.get(model)
    if not (dataset or responses):
        raise DataError("give the target: --responses FILE (your data) or --dataset NAME")
    spec = _spec(dataset, measure, labels, responses, expression, drugs, on_missing, impute)
    target = spec.load(defer_missing=True)
    outcome = run_transfer(load_dataset(source), target, model, parse_params(param), seed=seed)
    for line in outcome.info.get("matching_lines", []):
        typer.echo(line)
    metrics = outcome.metrics
    tables = group_tables(outcome.predictions, metrics.get("threshold"))
    with atomic_directory(out, overwrite=overwrite) as tmp:
        outcome.predictions.to_csv(tmp / "predictions.csv", index=False)
        for name, table in tables.items():
            table.to_csv(tmp / f"per_{name}.csv", index=False)
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "config.json", {
            "model": model, "params": outcome.fitted.config.model_dump(mode="json"),
            "source": source, "target": spec.model_dump(), "seed": seed,
            "info": {k: v for k, v in outcome.info.items() if k != "matching_lines"},
            "versions": package_versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    keys = ["auroc", "auprc", "mcc", "drug_auroc_mean", "cell_auroc_mean", "pcc",
            "drug_pcc_mean"]
    shown_metrics = ", ".join(f"{k}={metrics[k]:.3f}" for k in keys if k in metrics)
    typer.echo(f"{model}: {source} -> {target.name}, {len(outcome.predictions)} pairs: "
               f"{shown_metrics}")
    per_drug = tables["drug"]
    if len(per_drug):
        sort = "auroc" if "auroc" in per_drug else per_drug.columns[-1]
        shown = [c for c in ("drug", "given", "n", "auroc", "auprc", "mcc", "pcc")
                 if c in per_drug]
        typer.echo("\nper drug:\n" + per_drug.sort_values(sort, ascending=False)[shown]
                   .to_markdown(index=False, floatfmt=".3f"))
    typer.echo(f"run written to {out}")
