"""The ``drpkit`` command.

    drpkit data list                       # built-in datasets, raw sources, resources
    drpkit data fetch gdsc2                # download + verify + convert once
    drpkit data info gdsc2                 # cells, drugs, pairs, missingness, balance
    drpkit data info ppi --dataset gdsc2   # a resource: counts, licence, coverage of a dataset
    drpkit models                          # registered models
    drpkit models hgacl                    # one model: views, outputs, every setting + default
    drpkit train --dataset gdsc2 --model ridge --split cell-blind --out runs/ridge
    drpkit evaluate --dataset gdsc2 --models naive-drug,ridge --splits random,drug-blind
    drpkit predict runs/ridge --expression new_cells.csv --drugs new_drugs.csv --out pred.csv
    drpkit benchmark grid.toml --out runs/grid   # resumable grid, local processes or Ray
    drpkit report runs/grid                      # self-contained HTML report + leaderboards

Every error a user can cause is printed as one line starting with ``error:``
(exit code 2) and leaves no half-written output behind. That includes usage
errors (unknown command or option, missing or extra argument, a bad value for
a typed option), which come after the command's usage line and never with a
traceback. A bare ``drpkit`` (or ``drpkit data``) prints the help and exits 0:
help is the expected answer there, not an error. An internal error (a bug)
prints one line saying how to see its traceback: ``drpkit --debug COMMAND ...``
or ``DRPKIT_DEBUG=1`` (exit code 1).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from drpkit.errors import DataError, DrpkitError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Cancer drug response prediction, honestly evaluated.")
data_app = typer.Typer(no_args_is_help=True, help="List, fetch and inspect datasets.")
app.add_typer(data_app, name="data")

# Set by the root callback; main() reads it after an internal error escapes a command.
_DEBUG = {"traceback": False}


@app.callback()
def _root(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full traceback of an internal error (or set DRPKIT_DEBUG=1).")]
        = False) -> None:
    _DEBUG["traceback"] = debug

DatasetOpt = Annotated[str | None, typer.Option(
    "--dataset", "-d", help="Built-in dataset (see `drpkit data list`).")]
MeasureOpt = Annotated[str | None, typer.Option(
    help="Response measure, e.g. ln_ic50 or auc (default: the dataset's first).")]
LabelsOpt = Annotated[str | None, typer.Option(
    "--labels", help="Binarisation rule: zscore, threshold-table, given or value:X.")]
ResponsesOpt = Annotated[Path | None, typer.Option(
    help="Your own long response table (columns cell, drug, value); CSV/TSV/Parquet.")]
ExpressionOpt = Annotated[Path | None, typer.Option(
    help="Cells x genes expression matrix (first column = cell id).")]
DrugsOpt = Annotated[Path | None, typer.Option(help="Table with columns drug, smiles.")]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--param", "-p", help="Model hyperparameter KEY=VALUE (JSON values; dotted keys for "
                          "nested settings, e.g. trainer.lr=0.001). Repeatable.")]


def _spec(dataset, measure, labels, responses, expression, drugs):
    from drpkit.data import DataSpec

    return DataSpec(dataset=dataset if dataset or responses else "gdsc2", measure=measure,
                    labels=labels, responses=str(responses) if responses else None,
                    expression=str(expression) if expression else None,
                    drugs=str(drugs) if drugs else None)


def parse_params(items: list[str] | None) -> dict:
    """``["alpha=1", "trainer.lr=0.01"]`` -> ``{"alpha": 1, "trainer": {"lr": 0.01}}``."""
    from drpkit.params import deep_merge, nest

    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise DataError(f"--param {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out = deep_merge(out, nest({key: value}))
    return out


def parse_model_params(items: list[str] | None, models: list[str]) -> dict[str, dict]:
    """Per-model overrides for ``evaluate``: ``MODEL:KEY=VALUE`` sets one model,
    a plain ``KEY=VALUE`` every model. Model names are checked."""
    per_model: dict[str, list[str]] = {name: [] for name in models}
    for item in items or []:
        head, _, rest = item.partition("=")
        if ":" in head:
            name, key = head.split(":", 1)
            if name not in per_model:
                raise DataError(f"--param {item!r}: model {name!r} is not among --models "
                                f"({', '.join(models)})")
            per_model[name].append(f"{key}={rest}")
        else:
            for name in models:
                per_model[name].append(item)
    return {name: parse_params(values) for name, values in per_model.items() if values}


def _csv_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _echo_table(frame: pd.DataFrame) -> None:
    typer.echo(frame.to_markdown(index=False))


# ---------------------------------------------------------------------- data
@data_app.command("list")
def data_list() -> None:
    """List built-in datasets, the raw sources behind them and prior-knowledge resources."""
    from drpkit.data import DATASETS, SOURCES
    from drpkit.resources import RESOURCES

    rows = [{"dataset": name, "measures": ",".join(DATASETS.get(name).measures),
             "sources": ",".join(DATASETS.get(name).sources),
             "cached": all(SOURCES.get(s).is_cached() for s in DATASETS.get(name).sources),
             "description": DATASETS.get(name).description} for name in DATASETS]
    _echo_table(pd.DataFrame(rows))
    typer.echo("")
    srows = [{"source": name, "cached": SOURCES.get(name).is_cached(),
              "licence": SOURCES.get(name).licence} for name in SOURCES]
    _echo_table(pd.DataFrame(srows))
    typer.echo("")
    rrows = [{"resource": name, "cached": RESOURCES.get(name).is_cached(),
              "licence": RESOURCES.get(name).licence,
              "description": RESOURCES.get(name).description} for name in RESOURCES]
    _echo_table(pd.DataFrame(rrows))


@data_app.command("fetch")
def data_fetch(name: Annotated[str, typer.Argument(help="A dataset or a source name.")],
               refresh: Annotated[bool, typer.Option(help="Fetch again even if cached.")] = False
               ) -> None:
    """Download, verify (sha256) and cache a dataset's sources, then build its tables."""
    from drpkit.data import DATASETS, SOURCES, load_dataset
    from drpkit.errors import UnknownNameError

    if name in SOURCES:
        paths = SOURCES.get(name).fetch(refresh=refresh)
        typer.echo(f"{name}: {len(paths)} verified file(s) in {SOURCES.get(name).directory}")
        return
    if name not in DATASETS:
        raise UnknownNameError("dataset or source", name, DATASETS.names() + SOURCES.names())
    for source in DATASETS.get(name).sources:
        SOURCES.get(source).fetch(refresh=refresh)
        typer.echo(f"{source}: verified")
    typer.echo(repr(load_dataset(name)))


@data_app.command("info")
def data_info(name: Annotated[str, typer.Argument(
                  help="Built-in dataset or resource name (see `drpkit data list`).")],
              measure: MeasureOpt = None, labels: LabelsOpt = None,
              dataset: Annotated[str | None, typer.Option(
                  "--dataset", "-d", help="With a resource: its coverage of this built-in "
                                          "dataset's genes or drugs.")] = None) -> None:
    """A dataset: counts of cells, drugs and pairs, missing values and label balance.
    A resource: its counts, licence and (with --dataset) coverage of a dataset."""
    from drpkit.data import DATASETS, load_dataset
    from drpkit.errors import UnknownNameError
    from drpkit.resources import RESOURCES

    if name in RESOURCES:
        data = load_dataset(dataset, measure, labels) if dataset else None
        for key, value in RESOURCES.get(name).info(data).items():
            typer.echo(f"{key:>44}: {value}")
        return
    if name not in DATASETS:
        raise UnknownNameError("dataset or resource", name, DATASETS.names() + RESOURCES.names())
    if dataset:
        raise DataError(f"--dataset applies to a resource ({', '.join(RESOURCES.names())}), "
                        f"not to the dataset {name!r}")
    info = load_dataset(name, measure, labels).info()
    notes = info.pop("notes")
    for key, value in info.items():
        typer.echo(f"{key:>20}: {value}")
    for note in notes:
        typer.echo(f"{'note':>20}: {note}")


# -------------------------------------------------------------------- models
@app.command("models")
def models(name: Annotated[str | None, typer.Argument(
        help="A model: show its views, outputs and every setting with default and doc.")]
        = None) -> None:
    """List registered models; with NAME, one model's views, outputs and settings.

    A model's settings are every key ``-p KEY=VALUE`` takes, with its type,
    default and doc, read from the model's config class.
    """
    from drpkit.models import MODELS

    if name is not None:
        _describe_model(MODELS.get(name))
        return
    rows = [{"model": n, "cell views": ",".join(MODELS.get(n).cell_views) or "-",
             "drug views": ",".join(MODELS.get(n).drug_views) or "-",
             "outputs": ",".join(MODELS.get(n).outputs),
             "baseline": "yes" if MODELS.get(n).baseline else "",
             "description": MODELS.get(n).description} for n in MODELS]
    _echo_table(pd.DataFrame(rows))


def _describe_model(cls) -> None:
    """What ``drpkit models NAME`` prints: the registry's class attributes, what
    fitting needs, then every setting of ``cls.Config`` (see drpkit.configdoc)."""
    from drpkit.configdoc import describe_config
    from drpkit.models.base import EarlyStoppingModel

    config = cls.Config()
    trainer = getattr(config, "trainer", None)
    lines = [("model", cls.name), ("description", cls.description or "-"),
             ("cell views", ", ".join(cls.cell_views) or "-"),
             ("drug views", ", ".join(cls.drug_views) or "-"),
             ("outputs", ", ".join(cls.outputs)),
             ("baseline", "yes" if cls.baseline else "no"),
             ("validation part", "required (early stopping)"
              if issubclass(cls, EarlyStoppingModel) else "optional"),
             ("device", f"trainer.device, default {trainer.device!r} (CUDA when available)"
              if hasattr(trainer, "device") else "CPU")]
    for key, value in lines:
        typer.echo(f"{key:>16}: {value}")
    typer.echo("\nSettings (-p KEY=VALUE, JSON values; defaults as JSON):\n")
    rows = [vars(row) for row in describe_config(cls.Config)]
    # "simple", not a pipe table: types such as ``int | None`` contain pipes
    typer.echo(pd.DataFrame(rows).to_markdown(index=False, tablefmt="simple",
                                              disable_numparse=True))


# --------------------------------------------------------------------- train
@app.command("train")
def train(model: Annotated[str, typer.Option("--model", "-m", help="Model name (drpkit models).")],
          out: Annotated[Path, typer.Option(help="Run directory to create.")],
          dataset: DatasetOpt = None, measure: MeasureOpt = None, labels: LabelsOpt = None,
          responses: ResponsesOpt = None, expression: ExpressionOpt = None,
          drugs: DrugsOpt = None,
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
    from drpkit.experiment import run_fold, run_trial
    from drpkit.models import MODELS
    from drpkit.predict import REFERENCE_FILE, expression_reference
    from drpkit.runs import atomic_directory, package_versions, write_json
    from drpkit.splits import SPLITS, holdout_fold, make_folds

    MODELS.get(model)
    if split != "none":
        SPLITS.get(split)
    spec = _spec(dataset, measure, labels, responses, expression, drugs)
    params = {"seed": seed, **parse_params(param)}
    data = spec.load()
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
            "seed": seed, "versions": package_versions(),
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
             drugs: DrugsOpt = None,
             folds: Annotated[int, typer.Option(help="k of k-fold CV.")] = 5,
             seed: Annotated[list[int] | None, typer.Option(
                 help="Seed(s); repeat for several.")] = None,
             param: Annotated[list[str] | None, typer.Option(
                 "--param", "-p", help="Hyperparameter KEY=VALUE for every model, or "
                 "MODEL:KEY=VALUE for one (JSON values, dotted nested keys). Repeatable.")]
             = None,
             out: Annotated[Path | None, typer.Option(help="Directory for results.")] = None,
             overwrite: Annotated[bool, typer.Option(help="Replace existing results.")] = False,
             ) -> None:
    """k-fold cross-validation of models under split kinds; a mean ± sd table per split."""
    from drpkit.experiment import cross_validate, summarise
    from drpkit.models import MODELS, create_model
    from drpkit.runs import atomic_directory, package_versions, write_json
    from drpkit.splits import SPLITS

    model_names, split_names = _csv_list(models), _csv_list(splits)
    for name in model_names:
        MODELS.get(name)
    for name in split_names:
        SPLITS.get(name)
    seeds = seed or [0]
    params = parse_model_params(param, model_names)
    for name, values in params.items():
        create_model(name, values)  # a bad setting fails now, not after hours of CV
    spec = _spec(dataset, measure, labels, responses, expression, drugs)
    start = time.perf_counter()
    data = spec.load()
    typer.echo(repr(data))
    results = cross_validate(data, model_names, split_names, folds, seeds, params)
    table = summarise(results)
    elapsed = time.perf_counter() - start
    for split_name, part in table.groupby("split", sort=False):
        typer.echo(f"\n## {data.name} {data.measure}, {split_name} split, {folds}-fold CV, "
                   f"seeds {seeds}\n")
        _echo_table(part.drop(columns="split"))
    typer.echo(f"\nwall time {elapsed:.0f} s")
    if out is not None:
        with atomic_directory(out, overwrite=overwrite) as tmp:
            results.to_csv(tmp / "results.csv", index=False)
            (tmp / "summary.md").write_text(table.to_markdown(index=False) + "\n")
            write_json(tmp / "config.json", {
                "models": model_names, "params": params, "splits": split_names,
                "folds": folds, "seeds": seeds,
                "data": spec.model_dump(), "versions": package_versions(),
                "wall_seconds": round(elapsed, 1)})
        typer.echo(f"results written to {out}")


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
    if report and outcome.finished + outcome.skipped:
        from drpkit.report import build_report
        from drpkit.report.console import console_leaderboard

        path = build_report(out)
        typer.echo("\n" + console_leaderboard(out / "leaderboard.csv") + "\n")
        typer.echo(f"report: {path}")
    if outcome.failed:
        raise typer.Exit(1)


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
            ) -> None:
    """Predict with a trained run for new cells (expression) and/or new drugs (SMILES).

    Without --pairs, every given cell is paired with every given drug; cells
    or drugs not given are taken from the training dataset. Missing genes are
    imputed (and counted), a file on another scale is flagged, drugs that are
    training drugs under another name are matched by structure or name, and a
    non-finite prediction is an error (exit code 2, nothing written).
    """
    from drpkit.atomic import atomic_file
    from drpkit.predict import match_summary, predict_run
    from drpkit.runs import write_json

    if missing_genes not in ("impute", "error"):
        raise DataError(f"--missing-genes must be 'impute' or 'error', got {missing_genes!r}")
    if standardise not in ("none", "within"):
        raise DataError(f"--standardise must be 'none' or 'within', got {standardise!r}")
    outcome = predict_run(run, expression, drugs, pairs, missing_genes=missing_genes,
                          max_missing=max_missing, standardise=standardise)
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


def _click_exceptions():
    """The module of the click exceptions typer raises: recent typer vendors
    click as ``typer._click``, older typer raises click's own."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - typer without a vendored click
        from click import exceptions
    return exceptions


def _innermost_context(exc: BaseException):
    """The deepest click context on ``exc``'s traceback. The option parser raises
    some usage errors (an option missing its value) without one, and the
    context, which names the subcommand, is needed for its usage line."""
    found, tb = None, exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("ctx")
        if hasattr(candidate, "get_usage") and hasattr(candidate, "command_path"):
            found = candidate
        tb = tb.tb_next
    return found


def _show_usage_error(exc) -> None:
    """Usage line, help hint and a one-line ``error:`` message on stderr: click's
    plain form (not typer's boxes), in drpkit's ``error:`` style."""
    ctx = getattr(exc, "ctx", None) or _innermost_context(exc)
    if ctx is not None:
        typer.echo(ctx.get_usage(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            typer.echo(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.",
                       err=True)
    typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)


def _debug_requested() -> bool:
    """``--debug`` was given or DRPKIT_DEBUG is set to anything but empty/0/false/no."""
    env = os.environ.get("DRPKIT_DEBUG", "").strip().lower()
    return _DEBUG["traceback"] or env not in ("", "0", "false", "no")


def main() -> None:
    """Entry point: run the app and turn every way it ends into output and an exit code.

    The app runs with ``standalone_mode=False`` so that errors reach this
    function instead of typer's handler, which prints tracebacks:

    * drpkit errors (bad input, unknown names): ``error: ...``, exit 2;
    * usage errors (unknown command or option, missing or extra argument, bad
      value): usage line, help hint, ``error: ...``, exit 2;
    * a bare ``drpkit`` or ``drpkit data``: the help, exit 0;
    * ``typer.Exit(code)`` in a command (returned, not raised, without
      standalone mode) and Ctrl-C (130): that code;
    * anything else is a bug: one line naming it and how to see the traceback,
      exit 1; with ``--debug`` or ``DRPKIT_DEBUG=1`` the exception propagates
      and Python prints the traceback.
    """
    errors = _click_exceptions()
    _DEBUG["traceback"] = False
    try:
        code = app(standalone_mode=False)
    except DrpkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except getattr(errors, "NoArgsIsHelpError", ()) as exc:
        help_text = exc.format_message()  # empty when rich has printed the help already
        if help_text:
            typer.echo(help_text)
        sys.exit(0)
    except errors.UsageError as exc:
        _show_usage_error(exc)
        sys.exit(exc.exit_code)
    except errors.ClickException as exc:
        typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _debug_requested():
            raise
        lines = str(exc).strip().splitlines()
        name = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        typer.echo(f"error: internal error ({name}); run again with --debug "
                   "(drpkit --debug COMMAND ...) or DRPKIT_DEBUG=1 for the traceback", err=True)
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
