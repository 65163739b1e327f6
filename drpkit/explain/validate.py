"""``drpkit explain --validate``: the checks of :mod:`drpkit.explain.checks` on a run.

* **DTI recovery** needs a model whose graph can hide target links (drGT).
  For a train run, a second drGT is fitted on the same fold with the run's
  settings and ``hide_dti`` (a fifth by default); for a benchmark run, the
  tasks that stored a ``hidden_dti`` artifact (a grid run with
  ``-p drgt:hide_dti=0.2``) are checked one by one and pooled (hits and
  expectations summed; p-values per task, their median reported).
* **Known share** (the paper's reading) and **enrichment** use the run's own
  rankings, with the drug's visible graph targets left out of its top genes
  for the enrichment.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from drpkit.errors import DataError
from drpkit.explain.checks import CheckResult, dti_recovery, enrichment, known_share
from drpkit.explain.runs import Explained, known_targets


def check_gene_ranking(explained: Explained) -> None:
    """Refuse rankings whose ``gene`` column holds gene sets (mmgnn's pathway
    attention, ``feature == "pathway"``): known-target share, DTI recovery and
    enrichment compare genes, and would silently report zeros for them."""
    scores = explained.scores
    if "feature" in scores and (scores["feature"] == "pathway").any():
        raise DataError(f"--validate checks gene rankings (known targets, DTI recovery, "
                        f"enrichment); model {explained.model!r} ranks gene sets, not genes: "
                        "run without --validate")


def _recovery_from(artifacts: dict[str, pd.DataFrame], k: int, permutations: int,
                   seed: int) -> CheckResult:
    scores = artifacts["drug_gene_scores"]
    nodes = artifacts["gene_nodes"]
    visible = scores.loc[scores["dti"], ["drug", "gene"]]
    degree = nodes.set_index("gene")["degree"]
    return dti_recovery(scores, artifacts["hidden_dti"], visible, nodes["gene"], degree, k,
                        permutations, seed)


def recovery(explained: Explained, k: int, hide: float = 0.2, permutations: int = 1000,
             seed: int = 0, log=print) -> CheckResult | None:
    """DTI recovery of ``explained``'s model (None when it cannot hide links)."""
    from drpkit.experiment import run_fold

    ctx = explained.context
    if "store" in ctx:  # benchmark run: tasks fitted with hide_dti
        ids = [t for t in explained.tasks if "hidden_dti" in ctx["store"].artifact_names(t)]
        if not ids:
            log("dti recovery: no task of this run hid target links (run the grid with "
                "-p drgt:hide_dti=0.2); skipped")
            return None
        results = [_recovery_from(ctx["store"].artifacts(t), k, permutations, seed + i)
                   for i, t in enumerate(ids)]
        return _pool(results, ids)
    if explained.model != "drgt":
        log(f"dti recovery: model {explained.model!r} has no drug-target edges to hide; "
            "skipped")
        return None
    params = {**ctx["params"], "hide_dti": hide,
              "explain_top": max(k, int(ctx["params"].get("explain_top", 50)))}
    params["trainer"] = {**params.get("trainer", {}), "progress": False}
    log(f"dti recovery: fitting drgt with {hide:.0%} of its target links hidden "
        f"(fold {ctx['fold'].id})...")
    fitted = run_fold(ctx["full"], "drgt", ctx["fold"], params)
    result = _recovery_from(fitted.artifacts, k, permutations, seed)
    result.summary["hidden_model_auroc"] = fitted.metrics.get("auroc", float("nan"))
    result.summary["hide_dti"] = hide
    return result


def _pool(results: list[CheckResult], ids: list[str]) -> CheckResult:
    per_drug = pd.concat([r.per_drug.assign(task=t) for r, t in zip(results, ids, strict=True)],
                         ignore_index=True)
    s = [r.summary for r in results]
    hits, total = sum(x["hits"] for x in s), sum(x["hidden_links"] for x in s)
    summary = {"k": s[0]["k"], "tasks": len(ids), "drugs": int(per_drug["drug"].nunique()),
               "hidden_links": total, "hits": hits,
               "recall": hits / total if total else float("nan"),
               "expected_random": sum(x["expected_random"] for x in s),
               "expected_degree": sum(x["expected_degree"] for x in s),
               "p_random_median": float(np.median([x["p_random"] for x in s])),
               "p_degree_median": float(np.median([x["p_degree"] for x in s])),
               "permutations": s[0]["permutations"]}
    return CheckResult(summary, per_drug)


def validate(explained: Explained, k: int, gene_sets: dict[str, set[str]],
             permutations: int = 1000, hide: float = 0.2, seed: int = 0,
             log=print) -> dict:
    """All checks; returns ``{"summary": {...}, "tables": {name: frame}}``."""
    known = known_targets(explained.context["full"], explained.scores["drug"].unique())
    out: dict = {"summary": {"known_share": known_share(explained.scores, known, k)},
                 "tables": {}}
    found = recovery(explained, k, hide, permutations, seed, log)
    if found is not None:
        out["summary"]["dti_recovery"] = found.summary
        out["tables"]["dti_recovery"] = found.per_drug
    enriched, sets = enrichment(explained.scores, explained.universe, gene_sets, known,
                                explained.visible, k, min(permutations, 200), seed)
    out["summary"]["enrichment"] = enriched.summary
    out["tables"]["enrichment"] = enriched.per_drug
    out["tables"]["enrichment_sets"] = sets
    return out
