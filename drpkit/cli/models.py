"""``drpkit models``: the registry, one model's needs and settings, the README table."""
from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from drpkit.cli.app import (
    _echo_table,
    app,
)


# -------------------------------------------------------------------- models
@app.command("models")
def models(name: Annotated[str | None, typer.Argument(
        help="A model: show its views, outputs and every setting with default and doc.")]
        = None,
        markdown: Annotated[bool, typer.Option(
            help="Print the README's model table (model, what, needs, outputs).")] = False,
        ) -> None:
    """List registered models; with NAME, one model's views, outputs and settings.

    A model's settings are every key ``-p KEY=VALUE`` takes, with its type,
    default and doc, read from the model's config class.
    """
    from drpkit.models import MODELS

    if name is not None:
        _describe_model(MODELS.get(name))
        return
    if markdown:
        typer.echo(models_markdown())
        return
    rows = [{"model": n, "cell views": ",".join(
                 [*MODELS.get(n).cell_views, *(f"({v})" for v in MODELS.get(n).optional_cell_views)])
             or "-",
             "drug views": ",".join(MODELS.get(n).drug_views).replace("|", " or ") or "-",
             "resources": ",".join(MODELS.get(n).resources) or "-",
             "outputs": ",".join(MODELS.get(n).outputs),
             "baseline": "yes" if MODELS.get(n).baseline else "",
             "description": MODELS.get(n).description} for n in MODELS]
    _echo_table(pd.DataFrame(rows))


def models_markdown() -> str:
    """The README's model table, from the registry (so the two cannot disagree)."""
    from drpkit.models import MODELS

    lines = ["| model | what | needs | outputs |", "|---|---|---|---|"]
    # naive baselines, the other baselines, then the papers' models (registry order within)
    order = sorted(MODELS, key=lambda n: (not n.startswith("naive-"),
                                          not MODELS.get(n).baseline))
    for name in order:
        cls = MODELS.get(name)
        needs = [*cls.cell_views, *(f"{v} (optional)" for v in cls.optional_cell_views),
                 *(v.replace("|", " or ") for v in cls.drug_views),
                 *(f"resource {r}" for r in cls.resources)]
        what = cls.description + (" (baseline)" if cls.baseline else "")
        lines.append(f"| `{name}` | {what} | {', '.join(needs) or '-'} | "
                     f"{', '.join(cls.outputs)} |")
    return "\n".join(lines)


def _describe_model(cls) -> None:
    """What ``drpkit models NAME`` prints: the registry's class attributes, what
    fitting needs, then every setting of ``cls.Config`` (see drpkit.configdoc)."""
    from drpkit.configdoc import describe_config
    from drpkit.models.base import EarlyStoppingModel

    config = cls.Config()
    device = getattr(getattr(config, "trainer", None), "device", None)
    lines = [("model", cls.name), ("description", cls.description or "-"),
             ("cell views", ", ".join(cls.cell_views) or "-"),
             ("optional views", ", ".join(cls.optional_cell_views) or "-"),
             ("drug views", ", ".join(cls.drug_views).replace("|", " or ") or "-"),
             ("resources", ", ".join(cls.resources) or "-"),
             ("outputs", ", ".join(cls.outputs)),
             ("baseline", "yes" if cls.baseline else "no"),
             ("validation part", "required (early stopping)"
              if issubclass(cls, EarlyStoppingModel) else "optional"),
             ("device", f"trainer.device, default {device!r} (CUDA when available)"
              if device is not None else "CPU")]
    for key, value in lines:
        typer.echo(f"{key:>16}: {value}")
    typer.echo("\nSettings (-p KEY=VALUE, JSON values; defaults as JSON):\n")
    rows = [vars(row) for row in describe_config(cls.Config)]
    # "simple", not a pipe table: types such as ``int | None`` contain pipes
    typer.echo(pd.DataFrame(rows).to_markdown(index=False, tablefmt="simple",
                                              disable_numparse=True))
