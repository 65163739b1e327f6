"""What a model declares it needs, checked before fitting, and the data it then receives.

A model class declares, next to its name:

* ``cell_views``: cell views it cannot work without (``expression``...);
* ``optional_cell_views``: cell views it uses when the dataset has them;
* ``drug_views``: drug representations it needs, each entry a view name or
  alternatives joined by ``|`` (``"pubchem920|smiles"``: the stored 920-bit
  view, else SMILES to derive fingerprints from). ``smiles`` means the drugs'
  SMILES; a fingerprint name such as ``morgan`` is derived from SMILES;
* ``resources``: prior knowledge (``drpkit.resources``: ``ppi``, ``dti``, ...).

:func:`check_requirements` fails, before any fitting, with one message naming
the model and everything missing; :func:`data_for_model` hands the model a copy
of the dataset holding only what it declared (undeclared views are gone, and
declared resources are attached), so a model cannot quietly read something
the pipeline never checked.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from drpkit.data.container import DrugResponseData
from drpkit.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from drpkit.models.base import DRPModel


def _derived(view: str) -> bool:
    """Whether ``view`` is a fingerprint computed from SMILES (``morgan``...)."""
    from drpkit.features.molecules import DRUG_FINGERPRINTS

    return view.split(":")[0] in DRUG_FINGERPRINTS


def _has_drug_view(data: DrugResponseData, view: str) -> bool:
    if view in data.drug_views:
        return True
    return (view == "smiles" or _derived(view)) and len(data.smiles) > 0


def requirement_errors(model: type[DRPModel] | DRPModel, data: DrugResponseData) -> list[str]:
    """Everything ``model`` declares that ``data`` (or the resource registry) lacks."""
    from drpkit.resources import RESOURCES

    missing = [f"cell view {view!r}" for view in model.cell_views if view not in data.cell_views]
    for entry in model.drug_views:
        options = entry.split("|")
        if not any(_has_drug_view(data, view) for view in options):
            missing.append("drug view " + " or ".join(repr(v) for v in options))
    missing += [f"resource {name!r}" for name in model.resources if name not in RESOURCES]
    return missing


def check_requirements(model: type[DRPModel] | DRPModel, data: DrugResponseData) -> None:
    """Raise :class:`DataError` naming the model and each missing view or resource."""
    missing = requirement_errors(model, data)
    if missing:
        have = sorted(data.cell_views) + sorted(data.drug_views) + (
            ["smiles"] if len(data.smiles) else [])
        raise DataError(f"model {model.name!r} needs {', '.join(missing)}, which dataset "
                        f"{data.name!r} does not have (it has: {', '.join(have) or 'nothing'})")


def data_for_model(model: type[DRPModel] | DRPModel, data: DrugResponseData) -> DrugResponseData:
    """``data`` checked against ``model``'s declarations and cut to them.

    The copy keeps the declared (and optional) cell views, the declared stored
    drug views, the SMILES and derived fingerprints when some entry allows
    them, and gets the declared resources in ``resources``; responses, cell
    information and notes are shared unchanged.
    """
    from drpkit.resources import RESOURCES

    check_requirements(model, data)
    cell = (*model.cell_views, *model.optional_cell_views)
    wanted = {view for entry in model.drug_views for view in entry.split("|")}
    chosen = getattr(getattr(model, "config", None), "drug_fingerprint", None)
    if isinstance(chosen, str) and chosen != "auto":  # a setting naming the drug view to use
        wanted.add(chosen)
    uses_smiles = any(view == "smiles" or _derived(view) for view in wanted)
    drug_views = {key: frame for key, frame in data.drug_views.items()
                  if key in wanted or (uses_smiles and _derived(key))}
    return replace(data, cell_views={k: v for k, v in data.cell_views.items() if k in cell},
                   drug_views=drug_views,
                   smiles=data.smiles if uses_smiles else data.smiles.iloc[:0],
                   resources={name: RESOURCES.get(name) for name in model.resources},
                   notes=list(data.notes))
