"""The benchmark grid: configs, stable task ids, resumable runs (also after
SIGKILL), failures that do not stop the grid, Ray = local, validation-only
search, and cross-dataset transfer on real data."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drpkit.errors import DataError, UnknownNameError
from drpkit.experiment.executors import LocalBackend, _Progress, run_grid
from drpkit.experiment.grid import GridConfig, SearchConfig, Task
from drpkit.experiment.store import RunStore, TaskResult
from drpkit.experiment.transfer import align_datasets, match_drugs, run_transfer
from drpkit.splits import make_folds

REPO = Path(__file__).resolve().parents[1]
QUIET = {"progress": False, "log": lambda message: None}
FAST = {"ridge": {"n_genes": 300}}


def grid(**settings) -> GridConfig:
    base = {"datasets": ["ccle"], "models": ["naive-drug", "naive-additive", "ridge"],
            "params": FAST, "splits": ["random"], "folds": 3, "workers": 1}
    return GridConfig.build({**base, **settings})


def metrics_by_task(run: Path) -> pd.DataFrame:
    frame = RunStore(run).results()
    return frame.drop(columns=["seconds"]).set_index("id").sort_index()


def file_digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------- configs
def test_toml_and_yaml_configs_give_the_same_tasks(tmp_path):
    (tmp_path / "g.toml").write_text(
        'datasets = ["ccle"]\nmodels = ["naive-drug", "ridge"]\nsplits = ["random"]\n'
        'folds = 3\n[params.ridge]\nn_genes = 300\n'
        '[search.ridge]\ntrials = 2\nspace = { n_genes = { choice = [200, 400] } }\n')
    (tmp_path / "g.yaml").write_text(
        "datasets: [ccle]\nmodels: [naive-drug, ridge]\nsplits: [random]\nfolds: 3\n"
        "params: {ridge: {n_genes: 300}}\n"
        "search: {ridge: {trials: 2, space: {n_genes: {choice: [200, 400]}}}}\n")
    toml, yaml = GridConfig.from_file(tmp_path / "g.toml"), GridConfig.from_file(tmp_path / "g.yaml")
    ids = [t.id for t in toml.tasks()]
    assert ids == [t.id for t in yaml.tasks()]
    # 3 folds x (naive-drug + 2 ridge trials + ridge) and every id distinct
    assert len(ids) == len(set(ids)) == 12
    kinds = [t.kind for t in toml.tasks()]
    assert kinds.count("trial") == 6 and kinds.count("cv") == 6
    # flags override the file
    assert len(GridConfig.from_file(tmp_path / "g.toml", folds=2).tasks()) == 8


def test_task_ids_are_stable_and_cover_every_field():
    task = grid().tasks()[0]
    same = Task(**task.model_dump())
    assert same.id == task.id and task.id.startswith("cv-naive-drug-ccle-random-s0-f0-")
    for change in ({"fold": 1}, {"seed": 1}, {"params": {"seed": 0, "x": 1}}, {"split": "cell-blind"}):
        assert Task(**{**task.model_dump(), **change}).id != task.id


def test_bad_configs_name_the_problem(tmp_path):
    with pytest.raises(UnknownNameError, match="no-such-model"):
        grid(models=["no-such-model"]).check()
    with pytest.raises(UnknownNameError, match="no-such-split"):
        grid(splits=["no-such-split"]).check()
    with pytest.raises(DataError, match="ridge"):
        grid(params={"ridge": {"n_genes": "many"}}).check()
    with pytest.raises(DataError, match="not among the grid's models"):
        grid(params={"gbm": {}}).check()
    with pytest.raises(DataError, match="log_uniform"):
        GridConfig.build({"models": ["ridge"], "datasets": ["ccle"],
                          "search": {"ridge": {"space": {"alpha": {"log_uniform": [0, 1]}}}}})
    (tmp_path / "bad.toml").write_text("models = [")
    with pytest.raises(DataError, match="bad.toml"):
        GridConfig.from_file(tmp_path / "bad.toml")


def test_search_samples_are_reproducible_and_inside_the_space():
    search = SearchConfig(trials=20, space={"trainer.lr": {"log_uniform": [1e-4, 1e-2]},
                                            "hidden": {"choice": [[64], [128, 64]]},
                                            "k": {"int": [2, 4]}})
    a, b = search.sample(3), search.sample(3)
    assert a == b and a != search.sample(4)
    assert all(1e-4 <= s["trainer"]["lr"] <= 1e-2 and s["hidden"] in ([64], [128, 64])
               and 2 <= s["k"] <= 4 for s in a)


# ---------------------------------------------------------------- running
@pytest.mark.integration
def test_grid_runs_stores_and_skips_finished_tasks(tmp_path):
    config = grid(splits=["random", "cell-blind"])
    first = run_grid(config, tmp_path / "run", **QUIET)
    assert (first.finished, first.skipped, first.failed) == (18, 0, {})
    results = metrics_by_task(tmp_path / "run")
    assert len(results) == 18 and results["pcc"].notna().all()
    # the per-drug mean ranks no cell: its within-drug PCC is 0; ridge reads expression
    by_model = results.groupby("model")["drug_pcc_mean"].mean()
    assert by_model["naive-drug"] == pytest.approx(0.0, abs=1e-9)
    assert by_model["ridge"] > 0.1
    again = run_grid(config, tmp_path / "run", **QUIET)
    assert (again.finished, again.skipped) == (0, 18)
    assert (tmp_path / "run" / "results.csv").exists()


@pytest.mark.integration
def test_a_failing_task_is_recorded_and_the_grid_goes_on(tmp_path):
    config = grid(models=["naive-drug", "ridge"],
                  params={"ridge": {"n_genes": 300, "drug_fingerprint": "no-such-fingerprint"}})
    outcome = run_grid(config, tmp_path / "run", **QUIET)
    assert outcome.finished == 3 and len(outcome.failed) == 3
    assert all("no-such-fingerprint" in error for error in outcome.failed.values())
    failures = RunStore(tmp_path / "run").failures()
    assert set(failures) == set(outcome.failed)
    assert all("Traceback" in f["traceback"] for f in failures.values())


@pytest.mark.integration
def test_search_trials_see_only_validation_pairs_and_pick_the_best(tmp_path, request):
    config = grid(models=["ridge"], folds=3,
                  search={"ridge": {"trials": 2, "metric": "pcc",
                                    "space": {"n_genes": {"choice": [20, 400]}}}})
    run_grid(config, tmp_path / "run", **QUIET)
    store = RunStore(tmp_path / "run")
    results = store.results()
    data = request.getfixturevalue("ccle")
    fold = make_folds(data, "random", 3, 0)[0]
    val_pairs = set(zip(*data.responses.iloc[fold.val][["cell", "drug"]].to_numpy().T,
                        strict=True))
    trials = results[(results["kind"] == "trial") & (results["fold"] == 0)]
    assert len(trials) == 2
    for task_id in trials["id"]:
        predicted = store.predictions(task_id)
        assert set(zip(predicted["cell"], predicted["drug"], strict=True)) == val_pairs
    best = trials.loc[trials["pcc"].idxmax(), "id"]
    final = results[(results["kind"] == "cv") & (results["fold"] == 0)]["id"].item()
    assert store.result(final)["params"] == store.task(best)["params"]


ENSEMBLE_MLP = {"hidden": [32], "trainer": {"max_epochs": 4, "patience": 2},
                "uncertainty": {"method": "ensemble", "members": 3}}


@pytest.mark.integration
def test_ensemble_members_run_as_parallel_tasks_with_the_in_task_numbers(tmp_path, request):
    """An ensemble in a grid is K member tasks plus the fold's task that combines
    them; its metrics must be those of the same ensemble fitted inside one task."""
    import torch

    from drpkit.experiment.crossval import run_fold
    from drpkit.models import create_model

    config = grid(models=["mlp"], params={"mlp": ENSEMBLE_MLP}, only_folds=[0], workers=2)
    tasks = config.tasks()
    assert [t.kind for t in tasks] == ["member"] * 3 + ["cv"]
    assert tasks[-1].after == [t.id for t in tasks[:3]]
    outcome = run_grid(config, tmp_path / "run", **QUIET)
    assert (outcome.finished, outcome.failed) == (4, {})
    store = RunStore(tmp_path / "run")
    results = store.results().set_index("kind")
    members = [store.predictions(t.id) for t in tasks[:3]]
    assert all(set(m["part"]) == {"val", "test"} for m in members)
    assert not np.allclose(members[0]["value"], members[1]["value"], atol=1e-4)  # seeds differ

    data = request.getfixturevalue("ccle")
    fold = make_folds(data, "random", 3, 0)[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the grid's workers
    try:
        in_task = run_fold(data, create_model("mlp", {"seed": 0, **ENSEMBLE_MLP}), fold)
    finally:
        torch.set_num_threads(threads)
    combined = store.predictions(tasks[-1].id)
    for column in ("yhat", "value_sd", "value_lo", "value_hi"):
        np.testing.assert_allclose(combined[column], in_task.predictions[column], rtol=1e-4,
                                   atol=1e-4)  # float32 outputs, BLAS set-up
    for metric in ("rmse", "pcc", "auroc", "interval_coverage", "interval_width_mean"):
        assert results.loc["cv", metric] == pytest.approx(in_task.metrics[metric], rel=1e-4)


@pytest.mark.integration
def test_a_failed_ensemble_member_fails_its_folds_task_by_name(tmp_path):
    params = {"ridge": {"n_genes": 300, "drug_fingerprint": "no-such-fingerprint",
                        "uncertainty": {"method": "ensemble", "members": 2}}}
    config = grid(models=["ridge"], params=params, only_folds=[0])
    outcome = run_grid(config, tmp_path / "run", **QUIET)
    *members, final = config.tasks()
    assert set(outcome.failed) == {final.id, *(m.id for m in members)}
    assert outcome.failed[final.id].startswith("ensemble member task(s) failed: member-ridge")


def test_a_search_and_member_tasks_do_not_combine():
    config = grid(models=["mlp"], params={"mlp": ENSEMBLE_MLP},
                  search={"mlp": {"trials": 2, "space": {"dropout": {"uniform": [0, 0.5]}}}})
    with pytest.raises(DataError, match="ensemble_tasks = false"):
        config.check()
    inside = config.model_copy(update={"ensemble_tasks": False}).check()
    assert {t.kind for t in inside.tasks()} == {"trial", "cv"}


@pytest.fixture(scope="module")
def ccle():
    from drpkit.data import load_dataset

    return load_dataset("ccle")


@pytest.mark.integration
def test_ray_executor_gives_the_local_metrics(tmp_path):
    pytest.importorskip("ray")
    config = grid(models=["naive-additive", "ridge"], folds=2, workers=2)
    run_grid(config.model_copy(update={"executor": "ray"}), tmp_path / "ray", **QUIET)
    run_grid(config, tmp_path / "local", **QUIET)
    local, ray = metrics_by_task(tmp_path / "local"), metrics_by_task(tmp_path / "ray")
    assert list(local.index) == list(ray.index) and len(local) == 4
    numeric = local.select_dtypes("number").columns
    np.testing.assert_allclose(ray[numeric].to_numpy(float), local[numeric].to_numpy(float),
                               rtol=1e-9, atol=1e-12)


def test_interrupted_local_pool_stops_running_tasks_instead_of_awaiting_them():
    backend = LocalBackend(workers=1, threads=1)
    future = backend._pool.submit(time.sleep, 60)  # stands for a long training task
    while not future.running():
        time.sleep(0.05)
    start = time.perf_counter()
    backend.close(abort=True)
    assert time.perf_counter() - start < 20 and future.done()


def test_time_estimate_costs_each_task_at_its_own_models_mean():
    """A grid mixes millisecond baselines with minute-long graph models; one
    mean over all tasks would make the estimate wrong by hours."""
    progress = _Progress(total=6, done=2, slots=2, enabled=False, log=lambda m: None,
                         left=Counter({"naive": 2, "gcn": 2}),
                         seconds={"naive": [1.0], "gcn": [100.0]})
    assert progress.eta_seconds() == pytest.approx((2 * 1 + 2 * 100) / 2)
    task = Task(kind="cv", model="gcn", data={"dataset": "ccle"}, split="random")
    progress.finished(task, TaskResult(metrics={}, predictions=pd.DataFrame(),
                                       info={"seconds": 300.0}))
    assert progress.eta_seconds() == pytest.approx((2 * 1 + 1 * 200) / 2)
    unseen = _Progress(total=2, done=1, slots=1, enabled=False, log=lambda m: None,
                       left=Counter({"new": 1}), seconds={"naive": [4.0]})
    assert unseen.eta_seconds() == pytest.approx(4.0)  # unseen model: overall mean
    assert _Progress(total=1, done=0, slots=1, enabled=False, log=lambda m: None,
                     left=Counter({"new": 1})).eta_seconds() is None


def test_a_log_without_terminal_names_long_running_tasks(monkeypatch):
    """Without a terminal only ended tasks were logged: an hour-long task looked hung."""
    from drpkit.experiment import executors

    lines: list[str] = []
    progress = _Progress(total=3, done=1, slots=1, enabled=False, log=lines.append,
                         left=Counter({"gcn": 2}), seconds={"gcn": [60.0]})
    task = Task(kind="cv", model="gcn", data={"dataset": "ccle"}, split="random")
    progress.started(task)
    progress.update(1)
    assert lines == []  # not yet: the heartbeat waits HEARTBEAT_SECONDS
    monkeypatch.setattr(executors, "HEARTBEAT_SECONDS", 0.0)
    progress.update(1)
    assert len(lines) == 1 and task.id in lines[0] and "running" in lines[0]
    progress.finished(task, TaskResult(metrics={}, predictions=pd.DataFrame(),
                                       info={"seconds": 1.0}))
    progress.update(0)
    assert len(lines) == 2 and lines[1].startswith("[2/3] " + task.id)  # nothing running


@pytest.mark.integration
def test_sigkill_then_restart_keeps_finished_tasks_identical(tmp_path):
    config = tmp_path / "grid.toml"
    config.write_text('datasets = ["ccle"]\nmodels = ["naive-drug", "naive-additive", "ridge"]\n'
                      'splits = ["random", "cell-blind"]\nfolds = 5\nworkers = 1\n'
                      '[params.ridge]\nn_genes = 300\n')
    run = tmp_path / "run"
    command = [sys.executable, "-m", "drpkit", "benchmark", str(config), "--out", str(run),
               "--no-report"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tasks_dir = run / "tasks"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if tasks_dir.exists() and len([p for p in tasks_dir.iterdir()
                                       if not p.name.startswith(".")]) >= 4:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the grid finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p.name: (file_digests(p), p.stat().st_mtime_ns)
                for p in tasks_dir.iterdir() if not p.name.startswith(".")}
    assert 4 <= len(finished) < 30
    # the killed session's wall time is on record (kept up to date as tasks end)
    killed = RunStore(run).read_config()["sessions"]
    assert len(killed) == 1 and killed[0]["seconds"] > 0
    assert len(finished) - 1 <= killed[0]["finished"] <= len(finished)

    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    store = RunStore(run)
    assert len(store.done()) == 30 and not list(tasks_dir.glob(".*"))
    sessions = store.read_config()["sessions"]
    assert len(sessions) == 2 and sessions[1]["finished"] == 30 - len(finished)
    for name, (digests, mtime) in finished.items():  # not recomputed, not rewritten
        assert file_digests(tasks_dir / name) == digests
        assert (tasks_dir / name).stat().st_mtime_ns == mtime
    # and the same numbers as a run that was never interrupted
    clean = tmp_path / "clean"
    subprocess.run([*command[:-3], "--out", str(clean), "--no-report"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    resumed, uninterrupted = metrics_by_task(run), metrics_by_task(clean)
    numeric = resumed.select_dtypes("number").columns
    np.testing.assert_allclose(resumed[numeric].to_numpy(float),
                               uninterrupted[numeric].to_numpy(float), rtol=1e-12, atol=1e-12)


@pytest.mark.integration
def test_sigterm_stops_the_grid_and_its_running_workers(tmp_path):
    """``kill PID`` (SIGTERM) on the grid used to kill only the main process: its
    spawned workers went on training, orphaned, holding the cores."""
    psutil = pytest.importorskip("psutil")
    config = tmp_path / "grid.toml"
    config.write_text('datasets = ["ccle"]\nmodels = ["mlp"]\nsplits = ["random"]\nfolds = 5\n'
                      'workers = 1\n[params.mlp]\ntrainer = {max_epochs = 100000, '
                      'patience = 100000}\n')  # a task that outlives the test
    command = [sys.executable, "-m", "drpkit", "benchmark", str(config), "--out",
               str(tmp_path / "run"), "--no-report"]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "TQDM_DISABLE": "1"},
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    main = psutil.Process(process.pid)
    workers: list = []
    try:
        deadline = time.time() + 180
        while time.time() < deadline and not workers and process.poll() is None:
            # a worker that has used CPU is training (the resource tracker never does)
            workers = [c for c in main.children(recursive=True)
                       if "spawn_main" in " ".join(c.cmdline()) and c.cpu_times().user > 2]
            time.sleep(0.2)
        assert workers, "no worker started training"
        process.send_signal(signal.SIGTERM)  # the main process only, as `kill PID` does
        code = process.wait(timeout=60)
        _, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"workers still running after SIGTERM: {[p.pid for p in alive]}"
        assert code == 128 + signal.SIGTERM  # exits as a shell reports a SIGTERM stop
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group holds any orphaned worker


# ---------------------------------------------------------------- transfer
@pytest.fixture(scope="module")
def gdsc2_ccle(gdsc2, ccle):
    return gdsc2, ccle


def test_drugs_match_by_structure_and_genes_are_standardised_per_dataset(gdsc2_ccle):
    gdsc2, ccle = gdsc2_ccle
    matched = match_drugs(gdsc2, ccle)
    assert matched["AZD6244"] == "Selumetinib" and matched["PF2341066"] == "Crizotinib"
    assert matched["Erlotinib"] == "Erlotinib" and len(matched) == 13
    src, tgt, info = align_datasets(gdsc2, ccle)
    assert info["drugs_matched"] == 13 and "Selumetinib" in set(tgt.responses["drug"])
    for data in (src, tgt):
        x = data.cell_view("expression").to_numpy(np.float64)
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
    # the target's responses are untouched apart from the drug names
    np.testing.assert_array_equal(tgt.responses["value"], ccle.responses["value"])


@pytest.mark.integration
def test_transfer_gdsc2_to_ccle_beats_chance_and_splits_by_novelty(gdsc2_ccle):
    gdsc2, ccle = gdsc2_ccle
    from conftest import cut_subset

    source = cut_subset(gdsc2, 300, 60)
    outcome = run_transfer(source, ccle, "ridge", {"n_genes": 500}, seed=0)
    frame = outcome.predictions
    assert len(frame) == len(ccle.responses)
    assert set(frame["novelty"]) <= {"seen", "new cell", "new drug", "new both"}
    assert outcome.metrics["n[new cell]"] > 0 and outcome.metrics["n[new drug]"] > 0
    # within known drugs, expression-based ranking of cells carries over to CCLE
    assert outcome.metrics["auroc[new cell]"] > 0.6
    assert outcome.metrics["drug_pcc_mean"] > 0.1
    assert "interval_coverage[seen]" not in outcome.metrics  # no intervals asked for


def test_transfer_reports_interval_coverage_per_novelty_group(gdsc2_ccle):
    gdsc2, ccle = gdsc2_ccle
    from conftest import cut_subset

    source = cut_subset(gdsc2, 300, 60)
    outcome = run_transfer(source, ccle, "ridge",
                           {"n_genes": 500, "uncertainty": {"method": "conformal"}}, seed=0)
    frame, metrics = outcome.predictions, outcome.metrics
    for group in ("seen", "new drug"):
        part = frame[frame["novelty"] == group]
        inside = (part["y"] >= part["value_lo"]) & (part["y"] <= part["value_hi"])
        assert metrics[f"interval_coverage[{group}]"] == pytest.approx(inside.mean())
    n = {g: metrics[f"n[{g}]"] for g in ("seen", "new cell", "new drug", "new both")}
    pooled = sum(metrics.get(f"interval_coverage[{g}]", 0) * k for g, k in n.items())
    assert pooled / sum(n.values()) == pytest.approx(metrics["interval_coverage"])



def test_only_folds_runs_a_subset_of_the_same_folds():
    full = GridConfig(datasets=["gdsc2"], models=["naive-drug", "ridge"], splits=["random"],
                      folds=10)
    part = full.model_copy(update={"only_folds": [3, 0]})
    chosen = part.tasks()
    assert sorted({t.fold for t in chosen}) == [0, 3]
    assert all(t.folds == 10 for t in chosen)  # the same 10-fold partition, not a 2-fold one
    assert {t.id for t in chosen} <= {t.id for t in full.tasks()}  # a full run resumes them
    with pytest.raises(DataError, match="only_folds \\[10\\] outside the 10 folds"):
        full.model_copy(update={"only_folds": [10]}).check()


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "benchmarks" / "configs")
                                        .glob("*.toml")), ids=lambda p: p.name)
def test_committed_grid_configs_load_and_name_registered_models(path):
    """Every config in benchmarks/configs parses, and its models and splits exist
    (a typo would otherwise surface only when someone starts the grid)."""
    from drpkit.models import MODELS
    from drpkit.splits import SPLITS

    grid = GridConfig.from_file(path)
    assert grid.models and grid.splits
    assert set(grid.models) <= set(MODELS.names())
    assert set(grid.splits) <= set(SPLITS.names())
