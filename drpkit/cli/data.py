"""``drpkit data``: list, fetch and describe datasets and resources."""
from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from drpkit.cli.app import (
    LabelsOpt,
    MeasureOpt,
    _echo_table,
    data_app,
)
from drpkit.errors import DataError


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
