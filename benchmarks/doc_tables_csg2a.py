"""Generators of the BENCHMARKS.md tables of issue 16 (CSG2A): speed and memory of one
fold, csg2a beside the baselines on the paper's four split kinds with the paper's
figures labelled as the paper's, the ablations on the same folds, and the
mechanism-of-action check of the attention maps.

Registered into ``doc_common.GENERATORS``; run through ``doc_tables.py NAME``.
"""
from __future__ import annotations

import json

import pandas as pd
from doc_common import RESULTS, ROOT, generator, md_table, on_the_same_folds, read_jsonl
from doc_common import mean_sd_text as _ms

SPLITS = {"random": "mixed (random)", "cell-blind": "cell-blind", "drug-blind": "drug-blind",
          "disjoint": "disjoint"}


@generator("csg2a-speed")
def csg2a_speed(args: list[str]) -> str:
    """One GDSC2 fold of csg2a (``bench_csg2a.py time``, or ``from-run`` for a grid task)."""
    rows = []
    for r in read_jsonl("csg2a_timing_gdsc2.jsonl"):
        fold = f"{r['split']} fold {r['fold']}" + (f" of {r['folds']}" if r.get("folds") else "")
        rows.append([fold, _schedule(r.get("params") or {}), str(r["threads"]),
                     r.get("load") or "none", str(r["genes"]),
                     f"{r['train_pairs']:,}", f"{r['fit_seconds'] / 60:.1f} min",
                     f"{r['epochs']} ({r['best_epoch'] + 1})",
                     f"{r['best_val_loss']:.4f}" if "best_val_loss" in r else "–",
                     f"{r['seconds_per_epoch']:.0f} s",
                     f"{r['train_samples_per_second']:,}",
                     f"{r['peak_rss_mb'] / 1024:.1f} GiB", f"{r['rmse']:.3f}", f"{r['pcc']:.3f}",
                     f"{r['drug_pcc_mean']:.3f}"])
    return md_table(["fold", "schedule", "threads", "beside it", "genes", "training pairs",
                     "fit", "epochs (best)", "validation loss (best)", "per epoch", "samples/s",
                     "peak RSS", "RMSE", "PCC", "PCC per drug"], rows,
                    ["---", "---", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:",
                     "---:", "---:", "---:", "---:", "---:"])


def _cv(path: str) -> pd.DataFrame:
    tasks = pd.read_csv(RESULTS / path)
    return tasks[tasks["kind"] == "cv"]


MIN_TEST_FOLDS = 3  # fewer paired folds: the difference is shown without a p


@generator("csg2a-grid")
def csg2a_grid(args: list[str]) -> str:
    """csg2a and the baselines per split kind (``RUN/tasks.csv`` copied to
    ``benchmarks/results/csg2a_gdsc2/tasks.csv``), mean ± sd over the folds csg2a
    finished, every model on those same folds, csg2a's paired difference to each
    in PCC and PCC per drug (t-test p over the folds, from three folds on), with the
    CSG2A paper's Table 1 rows (its own GDSC set and folds) beside them, labelled."""
    tasks = _cv(args[0] if args else "csg2a_gdsc2/tasks.csv")
    paper = [r for r in read_jsonl("published.jsonl") if r["paper"] == "CSG2A"]
    rows = []
    for split in [s for s in SPLITS if s in set(tasks["split"])]:
        for model, runs, versus in on_the_same_folds(tasks, "csg2a", split,
                                                     ["pcc", "drug_pcc_mean"], MIN_TEST_FOLDS):
            name = "csg2a (no pretraining)" if model == "csg2a" else model
            rows.append([SPLITS[split], name, str(len(runs)), _ms(runs["rmse"]),
                         _ms(runs["pcc"]), _ms(runs["drug_pcc_mean"]), *versus])
        for quoted in (r for r in paper if r["split"] == split):
            rows.append([SPLITS[split], f"{quoted['model']}: the paper's figure", "10",
                         f"{quoted['rmse']:.3f} ± {quoted['rmse_sd']:.3f}",
                         f"{quoted['pcc']:.3f} ± {quoted['pcc_sd']:.3f}", "", "", ""])
    return md_table(["split", "model", "folds", "RMSE", "PCC", "PCC per drug",
                     "csg2a − this: PCC", "csg2a − this: PCC per drug"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("csg2a-drugs")
def csg2a_drugs(args: list[str]) -> str:
    """csg2a against each model paired over drugs (``bench_csg2a.py per-drug`` files,
    ``csg2a_gdsc2/per_drug_<split>.csv``; a drug-blind or disjoint drug is tested in one
    fold only): drugs both scored, mean PCC and RMSE per drug, the share of drugs where
    csg2a's PCC is higher, and the Wilcoxon signed-rank p on the per-drug PCC, Holm-
    corrected across the compared models of the split (models constant within a drug,
    whose per-drug PCC is 0 by construction, are left out)."""
    from drpkit.evaluate.stats import holm_correction, paired_wilcoxon

    rows = []
    for split in args or ["drug-blind", "disjoint"]:
        path = RESULTS / "csg2a_gdsc2" / f"per_drug_{split}.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path)
        wide = {m: part.set_index("drug") for m, part in table.groupby("model", sort=False)}
        ours = wide.pop("csg2a")
        found = []
        for model, theirs in wide.items():
            if (theirs["pcc"].fillna(0) == 0).all():
                continue  # constant within a drug (naive-drug): no ranking to compare
            both = ours[["pcc", "rmse"]].join(theirs[["pcc", "rmse"]], rsuffix="_o").dropna()
            found.append((model, both, paired_wilcoxon(both["pcc"], both["pcc_o"])[1]))
        holm = holm_correction([p for *_, p in found])
        folds = ours["fold"].nunique()
        rows.append([SPLITS[split], f"csg2a (no pretraining), {folds} folds",
                     str(len(ours)), f"{ours['pcc'].mean():.3f}", f"{ours['rmse'].mean():.3f}",
                     "", ""])
        for (model, both, _), p_holm in zip(found, holm, strict=True):
            rows.append([SPLITS[split], model, str(len(both)), f"{both['pcc_o'].mean():.3f}",
                         f"{both['rmse_o'].mean():.3f}",
                         f"{(both['pcc'] > both['pcc_o']).mean():.0%}", f"{p_holm:.2g}"])
    return md_table(["split", "model", "drugs", "PCC per drug (mean)", "RMSE per drug (mean)",
                     "drugs where csg2a's PCC is higher", "p (Wilcoxon over drugs, Holm)"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:"])


ABLATIONS = {"ppi_none": "no PPI prior", "form_linear": "no attention (linear)",
             "form_gene-wise": "gene-wise form (public code)",
             "drug_encoder_mol-gnn": "structure: GINE (mol-gnn)",
             "drug_encoder_fingerprint-mlp": "structure: Morgan fingerprint MLP"}


def _fold_list(folds) -> str:
    """Folds as the table shows them: ``0``, ``0, 1``."""
    return ", ".join(str(f) for f in sorted(folds))


@generator("csg2a-ablation")
def csg2a_ablation(args: list[str]) -> str:
    """csg2a's ablations (``csg2a_ablation/<variant>.csv``, each a run's tasks.csv)
    against the default model (the csg2a rows of ``csg2a_gdsc2/tasks.csv``) on the
    folds the variants ran: mean ± sd, the best validation loss where
    ``bench_csg2a.py from-run`` recorded it (``csg2a_ablation/variants.jsonl``, matched
    by task id), and the paired difference in PCC with its t-test p."""
    from scipy.stats import ttest_rel

    full = _cv("csg2a_gdsc2/tasks.csv")
    full = full[full["model"] == "csg2a"]
    variants = {"default (gene-to-gene, PPI, ChemNet)": full}
    for key, label in ABLATIONS.items():
        if (RESULTS / "csg2a_ablation" / f"{key}.csv").exists():
            variants[label] = _cv(f"csg2a_ablation/{key}.csv")
    validation_file = RESULTS / "csg2a_ablation" / "variants.jsonl"
    validation = {r["source"].split()[-1]: r["best_val_loss"] for r in
                  read_jsonl("csg2a_ablation/variants.jsonl")} if validation_file.exists() else {}
    columns = ["id", "rmse", "pcc"]

    def val_loss(frame: pd.DataFrame) -> str:
        losses = frame["id"].map(validation)
        return _ms(losses, 4) if losses.notna().all() else ""

    rows = []
    for split, split_name in SPLITS.items():
        base = full[full["split"] == split].set_index("fold")[columns]
        by_folds: dict[tuple[int, ...], list[list[str]]] = {}
        for label, frame in list(variants.items())[1:]:
            part = frame[frame["split"] == split].set_index("fold")[columns]
            both = part.join(base, rsuffix="_full", how="inner")
            if both.empty:
                continue
            diff = both["pcc"] - both["pcc_full"]
            p = ttest_rel(both["pcc"], both["pcc_full"]).pvalue if len(both) > 2 else None
            by_folds.setdefault(tuple(sorted(both.index)), []).append(
                [split_name, label, _fold_list(both.index), val_loss(both), _ms(both["rmse"]),
                 _ms(both["pcc"]), f"{diff.mean():+.3f}", "" if p is None else f"{p:.2g}"])
        # each set of folds gets the default's row on exactly those folds, then the
        # variants that ran on them, so a row is only ever compared with its own folds
        for folds, variant_rows in sorted(by_folds.items(), key=lambda item: -len(item[0])):
            shown = base.loc[list(folds)]
            rows.append([split_name, next(iter(variants)), _fold_list(folds), val_loss(shown),
                         _ms(shown["rmse"]), _ms(shown["pcc"]), "", ""])
            rows += variant_rows
    return md_table(["split", "variant", "folds", "validation loss (best)", "RMSE", "PCC",
                     "Δ PCC vs default", "p (paired t)"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])


@generator("csg2a-moa")
def csg2a_moa(args: list[str]) -> str:
    """The MoA check of ``bench_csg2a.py moa`` (``docs/explain/<dir>/moa.json``)."""
    rows = []
    for name in args or ["csg2a_gdsc2_f0"]:
        r = json.loads((ROOT / "docs" / "explain" / name / "moa.json").read_text())
        m = r["moa"]
        rows.append([f"{r['dataset']} {r['split']} fold {r['fold']} of {r['folds']}",
                     str(m["drugs with targets"]),
                     f"{m['pairs sharing a target']:,} / {m['pairs sharing none']:,}",
                     f"{m['mean within']:.3f} / {m['mean across']:.3f}",
                     f"{m['median within']:.3f} / {m['median across']:.3f}",
                     f"{m['median difference']:+.3f}",
                     f"{m['p (Mann-Whitney, within > across)']:.2g}"])
    return md_table(["fit", "drugs with a known target", "pairs: shared target / none",
                     "mean PCC within / across", "median within / across",
                     "median difference", "p (Mann-Whitney)"], rows,
                    ["---", "---:", "---:", "---:", "---:", "---:", "---:"])


def _fit_cells(r: dict) -> tuple[str, str, str, str]:
    """Fold, best validation loss, epochs (best) and fit time of a ``from-run`` row."""
    return (f"{r['split']} fold {r['fold']} of {r['folds']}", f"{r['best_val_loss']:.4f}",
            f"{r['epochs']} ({r['best_epoch'] + 1})", f"{r['fit_seconds'] / 60:.0f} min")


@generator("csg2a-decay")
def csg2a_decay(args: list[str]) -> str:
    """Weight decay on the query weights or not (``csg2a_ablation/decay_queries.jsonl``,
    ``bench_csg2a.py from-run`` rows): validation loss that chose the default, epochs,
    test metrics and the scale of the learned attention."""
    rows = []
    for r in read_jsonl("csg2a_ablation/decay_queries.jsonl"):
        decayed = r["params"].get("decay_queries", True)
        fold, loss, epochs, fit = _fit_cells(r)
        rows.append([fold, "decayed (the default)" if decayed else "not decayed", loss, epochs,
                     fit, f"{r['rmse']:.3f}", f"{r['pcc']:.3f}", f"{r['drug_pcc_mean']:.3f}",
                     f"{r['attention_abs_mean']:.3f}"])
    return md_table(["fold", "query weights", "validation loss (best)", "epochs (best)", "fit",
                     "test RMSE", "test PCC", "test PCC per drug", "mean abs. attention"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])


def _schedule(params: dict) -> str:
    """The training schedule a run's settings name, in words."""
    trainer = params.get("trainer", {})
    if trainer.get("schedule") == "cosine":
        words = f"cosine over {trainer['max_epochs']} epochs, lr {trainer.get('lr', 1e-3):g}"
    else:
        words = "constant lr 0.001, patience 10 (the default)"
    return (words + (", bf16 products" if trainer.get("precision") == "bf16" else "")
            + (", fused Adam" if trainer.get("fused_optimizer") else ""))


@generator("csg2a-schedule")
def csg2a_schedule(args: list[str]) -> str:
    """Fewer epochs with a cosine learning rate against the default run, on the random
    fold's validation loss (``csg2a_ablation/schedule.jsonl`` beside the default row
    of ``decay_queries.jsonl``, both ``bench_csg2a.py from-run`` rows)."""
    default = [r for r in read_jsonl("csg2a_ablation/decay_queries.jsonl")
               if r["split"] == "random" and not r["params"]]
    rows = []
    for r in default + read_jsonl("csg2a_ablation/schedule.jsonl"):
        setting = _schedule(r["params"])
        if r["params"].get("pretrained"):
            setting += (", pretrained on the synthetic GCTX, "
                        + ("fine-tuned" if r["params"].get("frozen") is False else "frozen"))
        fold, loss, epochs, fit = _fit_cells(r)
        rows.append([fold, setting, loss, epochs, fit, f"{r['rmse']:.3f}",
                     f"{r['drug_pcc_mean']:.3f}"])
    return md_table(["fold", "schedule", "validation loss (best)", "epochs (best)", "fit",
                     "test RMSE", "test PCC per drug"], rows,
                    ["---", "---", "---:", "---:", "---:", "---:", "---:"])
