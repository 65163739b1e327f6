"""The benchmark report: a real (small) CCLE grid run once, then its HTML page,
Markdown and CSV leaderboards checked against the run's own task metrics."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drpkit.errors import DataError
from drpkit.experiment.executors import run_grid
from drpkit.experiment.grid import GridConfig, Task
from drpkit.experiment.store import RunStore
from drpkit.report import build_report
from drpkit.report.run import ReportRun, TaskTable, merge_tasks
from drpkit.report.tables import build_leaderboards, leaderboard_csv

REPO = Path(__file__).resolve().parents[1]
MODELS = ["naive-drug", "naive-additive", "ridge", "nihgcn"]
VALUE_MODELS = ["naive-drug", "naive-additive", "ridge"]  # nihgcn outputs scores only
SPLITS = ["random", "drug-blind"]
FOLDS = 3
GRID = {
    "name": "report-test", "datasets": ["ccle"], "models": MODELS, "splits": SPLITS,
    "folds": FOLDS, "seeds": [0], "workers": 1,
    "params": {"ridge": {"n_genes": 300},
               "nihgcn": {"n_genes": 300, "hidden": 32, "layers": [32],
                          "trainer": {"max_epochs": 20, "patience": 5}}},
    "search": {"ridge": {"trials": 2, "space": {"cell_components": {"choice": [16, 32]}}}},
    "transfer": [{"source": "ccle", "target": "ccle-nihgcn"}],
}
# per (dataset, split): CD plots of AUROC, PCC, AUROC per drug and PCC per drug, ROC/PR,
# scatter, per drug, per tissue, training curves (nihgcn is a torch model)
FIGURES_PER_SPLIT = 9


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report") / "run"
    outcome = run_grid(GridConfig.build(GRID), root, progress=False, log=lambda m: None)
    assert not outcome.failed, outcome.failed
    return root


@pytest.fixture(scope="module")
def report(run) -> tuple[Path, str]:
    path = build_report(run)
    return path, path.read_text()


@pytest.fixture(scope="module")
def leaderboard(report, run) -> pd.DataFrame:
    return pd.read_csv(run / "leaderboard.csv")


def sections(html: str) -> dict[str, str]:
    """h2 id -> the HTML of its section."""
    return dict(re.findall(r'<section><h2 id="([^"]+)">.*?</h2>(.*?)</section>', html, re.DOTALL))


# ----------------------------------------------------------------- the page
def test_report_has_a_leaderboard_with_every_model_per_split(report, run):
    path, html = report
    assert path == run / "report.html"
    parts = sections(html)
    for split in SPLITS:
        section = parts[f"ccle-{split}"]
        board = re.search(r"<table>.*?</table>", section, re.DOTALL).group(0)
        assert "Leaderboard ccle · " + split in board and "3 folds × 1 seed" in board
        for model in MODELS:
            mode = r"( \(inductive\))?" if model == "nihgcn" else ""  # graph: its node mode
            assert re.search(rf"<td>{re.escape(model)}{mode}( \(baseline\))?</td>", board), model
        assert "<td>nihgcn (inductive)</td>" in board
        assert "AUROC vs the best baseline" in section and "PCC vs the best baseline" in section
    assert "89 finished" not in html and re.search(r"\d+ finished, 0 failed, 0 not run", html)


def test_embedded_images_are_the_ones_the_sections_imply(report):
    _, html = report
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == FIGURES_PER_SPLIT * len(SPLITS)
    assert all(s.startswith("data:image/png;base64,") and len(s) > 5000 for s in sources)
    parts = sections(html)
    for split in SPLITS:
        assert parts[f"ccle-{split}"].count("<img ") == FIGURES_PER_SPLIT


def test_report_is_self_contained(report):
    _, html = report
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.IGNORECASE)
    assert "url(" not in html and "<script" not in html and "<link" not in html
    assert "@import" not in html


def test_transfer_search_and_config_sections(report, run):
    _, html = report
    parts = sections(html)
    transfer = parts["transfer"]
    # every ccle-nihgcn cell and drug is in ccle: all pairs are "seen"
    assert "Transfer ccle → ccle-nihgcn" in transfer and "AUROC seen" in transfer
    assert "new drug" not in transfer.split("by novelty")[1].split("</thead>")[0]
    assert all(f"<td>{m}</td>" in transfer for m in MODELS)
    search = parts["search"]
    # 2 trials x 3 folds x 2 splits of ridge, one chosen per fold
    assert "Search of ridge: 12 trials" in search
    assert search.count("<td><b>✓</b></td>") == FOLDS * len(SPLITS)
    config = json.loads(re.search(r"<pre>(.*?)</pre>", parts["config"], re.DOTALL).group(1)
                        .replace("&quot;", '"'))
    assert config["models"] == MODELS and config["search"]["ridge"]["trials"] == 2


# ----------------------------------------------------------- leaderboards
def test_csv_means_equal_the_task_metrics(leaderboard, run):
    results = RunStore(run).results()
    cv = results[results["kind"] == "cv"]
    assert len(leaderboard) == len(SPLITS) * len(MODELS)
    for row in leaderboard.itertuples():
        tasks = cv[(cv["split"] == row.split) & (cv["model"] == row.model)]
        assert len(tasks) == row.tasks == FOLDS
        np.testing.assert_allclose(row.auroc_mean, tasks["auroc"].mean(), rtol=1e-12)
        np.testing.assert_allclose(row.auroc_sd, tasks["auroc"].std(ddof=1), rtol=1e-12)
        assert np.isnan(row.pcc_mean) == (row.model not in VALUE_MODELS)


def test_significance_against_the_best_baseline(leaderboard):
    for split, board in leaderboard.groupby("split"):
        board = board.set_index("model")
        baselines = board[board["baseline"]]
        assert set(baselines.index) == set(VALUE_MODELS)  # ridge is a baseline, nihgcn not
        for metric in ("auroc", "pcc"):
            reference = board[f"{metric}_reference"].iloc[0]
            assert reference == baselines[f"{metric}_mean"].idxmax()
            assert np.isnan(board.at[reference, f"{metric}_p_wilcoxon"])
        nihgcn = board.loc["nihgcn"]
        for column in ("auroc_diff", "auroc_p_wilcoxon", "auroc_p_wilcoxon_holm",
                       "auroc_p_ttest", "auroc_avg_rank"):
            assert np.isfinite(nihgcn[column]), (split, column)
        np.testing.assert_allclose(nihgcn["auroc_diff"], nihgcn["auroc_mean"] - board.at[
            board["auroc_reference"].iloc[0], "auroc_mean"], atol=1e-12)
        # with 3 folds the exact two-sided Wilcoxon p is at least 2 / 2**3
        tested = board["auroc_p_wilcoxon"].dropna()
        assert (tested >= 0.25 - 1e-12).all()
        assert (board["auroc_p_wilcoxon_holm"].dropna() >= tested[
            board["auroc_p_wilcoxon_holm"].dropna().index] - 1e-12).all()
        assert np.isnan(nihgcn["pcc_p_wilcoxon"])  # nihgcn predicts no values


def test_markdown_leaderboard(run, report):
    text = (run / "leaderboard.md").read_text()
    for split in SPLITS:
        assert f"## Leaderboard ccle · {split}: 3 folds × 1 seed" in text
        assert re.search(rf"## AUROC vs the best baseline \([a-z-]+\), ccle · {split}", text)
    assert "## Transfer ccle → ccle-nihgcn" in text and "**" in text
    assert "cannot go below 0.25" in text



def test_task_table_is_the_compact_record_of_every_task(report, run):
    """tasks.csv: one row per finished task, metrics equal to the stored results,
    with threads and versions, and no prediction column."""
    tasks = pd.read_csv(run / "tasks.csv")
    store = RunStore(run)
    assert len(tasks) == len(store.done())
    row = tasks[tasks["kind"] == "cv"].iloc[0]
    stored = store.result(row["id"])
    assert row["auroc"] == pytest.approx(stored["metrics"]["auroc"])
    assert row["threads"] >= 1 and "torch=" in row["versions"]
    assert not {"yhat", "score", "cell"} & set(tasks.columns)


def test_console_leaderboard_shows_best_model_and_naive_rows(leaderboard, run):
    from drpkit.report.console import console_leaderboard

    text = console_leaderboard(run / "leaderboard.csv")
    for split in SPLITS:
        board = leaderboard[leaderboard["split"] == split].set_index("model")
        best = board["auroc_mean"].idxmax()
        block = text.split(f"## ccle, {split} ")[1].split("## ")[0]
        line = next(line for line in block.splitlines() if line.startswith("| AUROC"))
        assert f"| {best} " in line and f"{board.at[best, 'auroc_mean']:.3f}" in line
        assert f"{board.at['naive-additive', 'auroc_mean']:.3f}" in line


def test_grid_summary_puts_split_kinds_side_by_side(leaderboard, run):
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "grid_summary.py"),
                          str(run / "leaderboard.csv"), "--metric", "auroc"],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "| model | " + " | ".join(SPLITS) + " |"
    rows = {line.split(" | ")[0].lstrip("| ").removesuffix(" (baseline)"): line
            for line in lines[2:] if line.startswith("| ")}
    assert set(rows) == set(MODELS)
    for split_index, split in enumerate(SPLITS):
        board = leaderboard[leaderboard["split"] == split].set_index("model")
        reference = board["auroc_reference"].iloc[0]
        cell = rows[reference].split(" | ")[1 + split_index]
        assert cell.startswith(f"**{board.at[reference, 'auroc_mean']:.3f}") and "(ref.)" in cell
        nihgcn = rows["nihgcn"].split(" | ")[1 + split_index]
        assert f"({board.at['nihgcn', 'auroc_diff']:+.3f}, p=" in nihgcn


# ------------------------------------------------------ failures, errors
def test_failed_tasks_are_listed_and_a_missing_fold_is_marked(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    store = RunStore(copy)
    lost = next(i for i in store.done() if i.startswith("cv-nihgcn-ccle-random-s0-f1-"))
    shutil.rmtree(store.tasks_dir / lost)
    store.write_failure(Task(**json.loads((run / "tasks" / lost / "task.json").read_text())),
                        "RuntimeError: out of <memory>", "Traceback ...")
    html = build_report(copy).read_text()
    assert f"{lost}: RuntimeError: out of &lt;memory&gt;" in html  # listed, escaped
    assert re.search(r"\d+ finished, 1 failed, 0 not run", html)
    assert "<td>nihgcn (inductive) [2 of 3 tasks]</td>" in sections(html)["ccle-random"]
    board = pd.read_csv(copy / "leaderboard.csv").set_index(["split", "model"])
    assert board.at[("random", "nihgcn"), "tasks"] == 2
    assert board.at[("random", "nihgcn"), "auroc_n"] == 2  # paired on the 2 folds left
    assert np.isfinite(board.at[("random", "nihgcn"), "auroc_p_ttest"])


def test_other_output_path(run, tmp_path):
    out = build_report(run, out=tmp_path / "elsewhere.html")
    assert out == tmp_path / "elsewhere.html" and out.stat().st_size > 100_000


def test_a_directory_without_finished_tasks_is_refused(run, tmp_path):
    with pytest.raises(DataError, match="not a benchmark run directory"):
        build_report(tmp_path)
    empty = tmp_path / "empty"
    (empty / "tasks").mkdir(parents=True)
    (empty / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(DataError, match="no finished tasks"):
        build_report(empty)


# ------------------------------------------------------------- rendering
@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path):
    path, _ = report
    png = tmp_path / "report.png"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "report_screenshot.py"),
                           str(path), str(png)], check=False, capture_output=True, text=True,
                          timeout=900)
    if done.returncode == 3:
        pytest.skip(f"no headless Chromium could be found or installed: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (1400, 4000)
        colours = len(image.convert("RGB").getcolors(maxcolors=1400 * 4000))
    assert colours > 2000, f"the screenshot looks blank ({colours} colours)"


@pytest.mark.integration
def test_uncertainty_section_reports_each_models_calibration(tmp_path):
    """Models run with an uncertainty method get a calibration table (the task
    metrics, mean over folds) and risk-coverage, per-drug coverage and reliability
    figures; a model without one is not in it."""
    conformal = {"uncertainty": {"method": "conformal"}}
    grid = {"name": "uq", "datasets": ["ccle"], "models": ["naive-drug", "ridge", "nihgcn"],
            "splits": ["random"], "folds": 3, "workers": 1,
            "params": {"ridge": {"n_genes": 300, **conformal},
                       "nihgcn": {**GRID["params"]["nihgcn"], **conformal}}}
    root = tmp_path / "run"
    assert not run_grid(GridConfig.build(grid), root, progress=False, log=lambda m: None).failed
    html = build_report(root).read_text()
    section = sections(html)["uncertainty"]
    rows = {m: c for m, *c in re.findall(r"<tr><td>([^<]+)</td>((?:<td>.*?</td>)+)</tr>",
                                         section)}
    assert set(rows) == {"ridge", "nihgcn"}
    results = RunStore(root).results().set_index("model")
    coverage = results.loc["ridge", "interval_coverage"].mean()
    assert f"{coverage:.3f} ± " in rows["ridge"][0] and "90%" in rows["ridge"][0]
    ece = results.loc["nihgcn", "ece"].mean()
    assert f"{ece:.3f} ± " in rows["nihgcn"][0]
    assert section.count("<img ") == 3  # risk-coverage, per-drug coverage, reliability
    assert "Risk-coverage" not in sections(html)["ccle-random"]


def test_leaderboard_recomputed_from_the_task_table_equals_the_reports(report, run):
    """The committed tasks.csv alone gives back leaderboard.csv (no run directory;
    means may differ in the last bit: pandas' grouped sums depend on memory layout)."""
    tasks = TaskTable.from_csv(run / "tasks.csv", GRID)
    board = leaderboard_csv(build_leaderboards(tasks))
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(board.to_csv(index=False))),
                                  pd.read_csv(run / "leaderboard.csv"), rtol=1e-12)


def test_merging_task_tables(report, run):
    """Folds recorded apart merge into the whole; a re-recorded id replaces its row;
    two ids of one (model, split, seed, fold) and foreign columns are refused."""
    tasks = pd.read_csv(run / "tasks.csv", dtype={"target": str, "trial": str, "member": str})
    early = tasks["fold"].fillna(0) < 1
    merged = merge_tasks([tasks[early], tasks[~early]])
    assert sorted(merged["id"]) == sorted(tasks["id"]) and len(merged) == len(tasks)
    changed = tasks.iloc[[0]].assign(seconds=12345.0)
    again = merge_tasks([tasks, changed])
    assert len(again) == len(tasks)
    assert again.loc[again["id"] == changed["id"].iloc[0], "seconds"].item() == 12345.0
    other = changed.assign(id="cv-other-settings-0123456789")
    with pytest.raises(DataError, match="share their key.*cv-other-settings-0123456789"):
        merge_tasks([tasks, other], "record")
    with pytest.raises(DataError, match="columns differ"):
        merge_tasks([tasks, tasks.drop(columns=["versions"])])


def test_a_task_table_without_its_key_columns_is_refused(run, tmp_path):
    path = tmp_path / "tasks.csv"
    pd.read_csv(run / "tasks.csv").drop(columns=["fold"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}: not a task table.*fold"):
        TaskTable.from_csv(path)


def test_every_task_reads_past_the_last_invocations_grid(run, tmp_path):
    """A directory last run with --only-folds 0 reports fold 0; read with every_task (as
    merge_grid reads runs) it gives every finished task."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    config = json.loads((copy / "config.json").read_text())
    config["grid"]["only_folds"] = [0]
    (copy / "config.json").write_text(json.dumps(config))
    last, every = ReportRun(copy), ReportRun(copy, every_task=True)
    assert set(last.kind("cv")["fold"]) == {0}
    assert set(every.kind("cv")["fold"]) == set(range(FOLDS))
    assert len(every.results) == len(RunStore(copy).done())
