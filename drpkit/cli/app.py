"""The ``drpkit`` app, its shared options and argument parsing, and ``main``
(turning every way a command ends into output and an exit code)."""
from __future__ import annotations

import json
import os
import sys
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
    help="Your own long response table (columns cell, drug, value; or cell, drug, label for "
         "a label-only screen); CSV/TSV/Parquet.")]
ExpressionOpt = Annotated[Path | None, typer.Option(
    help="Cells x genes expression matrix (first column = cell id).")]
DrugsOpt = Annotated[Path | None, typer.Option(help="Table with columns drug, smiles.")]
OnMissingOpt = Annotated[str, typer.Option(
    help="Pairs whose cell has no (complete) expression row or whose drug has no SMILES: "
         "'error' or 'drop' (counted).")]
ImputeOpt = Annotated[str, typer.Option(
    help="Missing expression values: 'none' (an error, or the cell's pairs dropped with "
         "--on-missing drop) or 'median' (the training cells' median of the gene, per fold).")]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--param", "-p", help="Model hyperparameter KEY=VALUE (JSON values; dotted keys for "
                          "nested settings, e.g. trainer.lr=0.001). Repeatable.")]


def _spec(dataset, measure, labels, responses, expression, drugs, on_missing: str = "error",
          impute: str = "none"):
    from pydantic import ValidationError

    from drpkit.data import DataSpec
    from drpkit.data.user_files import check_policy

    check_policy(on_missing, impute)
    try:
        return DataSpec(dataset=dataset if dataset or responses else "gdsc2", measure=measure,
                        labels=labels, responses=str(responses) if responses else None,
                        expression=str(expression) if expression else None,
                        drugs=str(drugs) if drugs else None, on_missing=on_missing,
                        impute=impute)
    except ValidationError as exc:
        raise DataError(f"invalid data options: {exc}") from None


def _echo_record(data) -> None:
    """The matching report and missing-data counts of user files, if any."""
    if data.record is not None:
        for line in data.record.lines():
            typer.echo(line)


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

