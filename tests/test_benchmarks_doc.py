"""Every table of BENCHMARKS.md and README.md (Results) is printed by the command named
above it, from committed result files (``benchmarks/check_tables.py``; no training)."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import check_tables

EXECUTORS = ".venv/bin/python benchmarks/doc_tables.py executors"


@pytest.fixture(scope="module")
def committed():
    """(problems, tables checked, command outputs) of the committed documents."""
    cache: dict = {}
    problems, checked = check_tables.check([REPO / name for name in check_tables.DOCS],
                                           REPO, cache=cache)
    return problems, checked, cache


def marked_block(command: str) -> str:
    """The marked table of ``command`` in BENCHMARKS.md, markers included."""
    text = (REPO / "BENCHMARKS.md").read_text()
    start = text.index(f"<!-- table: {command} -->")
    end = text.index("<!-- /table -->", start) + len("<!-- /table -->")
    return text[start:end]


def test_committed_tables_match_their_commands(committed):
    problems, checked, _ = committed
    assert not problems, "\n".join(problems)
    assert checked >= 15  # 12 in BENCHMARKS.md, 3 in README.md


def test_altered_number_is_a_mismatch(tmp_path, committed):
    text = (REPO / "BENCHMARKS.md").read_text()
    assert "| 197.0 s |" in marked_block(EXECUTORS)
    start = text.index(f"<!-- table: {EXECUTORS} -->")
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(text[:start] + text[start:].replace("| 197.0 s |", "| 196.0 s |", 1))
    problems, _ = check_tables.check([doc], REPO, cache=dict(committed[2]))
    assert len(problems) == 1
    assert f"`{EXECUTORS}`" in problems[0] and "196.0 s" in problems[0]
    line = doc.read_text().splitlines().index(f"<!-- table: {EXECUTORS} -->") + 1
    assert problems[0].startswith(f"{doc}:{line}:")


def test_fix_rewrites_the_table(tmp_path):
    block = marked_block(EXECUTORS)
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# t\n\n" + block.replace("| 197.0 s |", "| 196.0 s |", 1) + "\n\ntext\n")
    problems, _ = check_tables.check([doc], REPO, fix=True)
    assert len(problems) == 1
    assert doc.read_text() == "# t\n\n" + block + "\n\ntext\n"
    assert check_tables.check([doc], REPO) == ([], 1)


def test_unmarked_table_is_reported(tmp_path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# t\n\nsome text\n\n| a | b |\n|---|---:|\n| 1 | 2 |\n\n"
                   "```\n| in | code |\n|---|---|\n```\n")
    problems, checked = check_tables.check([doc], REPO)
    assert checked == 0
    assert problems == [(f"{doc}:5: table without a <!-- table: COMMAND --> marker "
                         "(every table must name the command that prints it)")]


def test_readme_tables_outside_results_need_no_marker(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text("# r\n\n## Models\n\n| a | b |\n|---|---|\n\n## Results\n\n"
                   "| c | d |\n|---|---|\n| 1 | 2 |\n\n## Layout\n\n| e | f |\n|---|---|\n")
    problems, _ = check_tables.check([doc], REPO)
    assert [p.split(": ")[0] for p in problems] == [f"{doc}:10"]


def test_malformed_markers_and_failing_commands_are_reported(tmp_path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("<!-- table: .venv/bin/python benchmarks/doc_tables.py no-such-table -->\n"
                   "| a |\n|---|\n<!-- /table -->\n\n"
                   "<!-- table: .venv/bin/python benchmarks/doc_tables.py executors -->\n"
                   "| a |\n|---|\n")
    problems = check_tables.check([doc], REPO)[0]
    assert any(p.startswith(f"{doc}:6: table marker without <!-- /table -->") for p in problems)
    assert any(p.startswith(f"{doc}:1: `") and "failed: exit status 2" in p for p in problems)


def test_pick_selects_one_of_several_tables():
    two = "| a |\n|---|\n| 1 |\n\nnote\n\n| b |\n|---|\n| 2 |\n"
    assert check_tables.generated_table(two, 2) == (["| b |", "|---|", "| 2 |"], "")
    table, error = check_tables.generated_table(two, None)
    assert table is None and "--pick" in error
    assert check_tables.argv_of("python x.py --y 1 --pick 2") == ([sys.executable, "x.py",
                                                                  "--y", "1"], 2)


def test_put_row_replaces_the_row_of_the_same_run_in_place(tmp_path, capsys):
    import json

    from bench_common import put_row

    out = tmp_path / "rows.jsonl"
    for run, value in (("a", 1), ("b", 2), ("c", 3)):
        put_row(out, {"run": run, "value": value}, key="run")
    put_row(out, {"run": "b", "value": 20}, key="run")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"run": "a", "value": 1}, {"run": "b", "value": 20},
                    {"run": "c", "value": 3}]
    assert not (tmp_path / "rows.jsonl.tmp").exists()


def test_uncertainty_tables_never_pool_rows_of_different_settings():
    import pandas as pd
    from doc_tables_uq import _labelled, _ordered_groups

    unc = {"method": "conformal"}
    frame = _labelled(pd.DataFrame([
        {"model": "mmgnn", "split": "random", "params": {"seed": 0, "uncertainty": unc}},
        {"model": "mtigcn", "split": "random", "params": {"seed": 0, "uncertainty": unc}},
        {"model": "mmgnn", "split": "random",
         "params": {"seed": 0, "uncertainty": unc, "trainer": {"weight_decay": 1e-5}}},
        {"model": "mmgnn", "split": "random", "params": {"seed": 0, "uncertainty": unc}}]))
    groups = [(key[0], len(part)) for key, part in _ordered_groups(frame)]
    assert groups == [("mmgnn", 2), ("mmgnn (trainer.weight_decay=1e-05)", 1), ("mtigcn", 1)]


def test_merge_grid_recomputes_the_committed_record_and_refuses_other_settings(tmp_path):
    """The csg2a record's tasks.csv alone gives back its leaderboard.csv (to the last bit
    or so) and itself byte for byte;
    a config whose settings differ (so every task id differs) is refused."""
    import merge_grid

    record = REPO / "benchmarks" / "results" / "csg2a_gdsc2" / "tasks.csv"
    config = REPO / "benchmarks" / "configs" / "csg2a_gdsc2.toml"
    tasks, board = merge_grid.merged_record(record, [], config)
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(board)),
                                  pd.read_csv(record.with_name("leaderboard.csv")), rtol=1e-12)
    assert tasks.to_csv(index=False) == record.read_text()
    other = tmp_path / "other.toml"
    other.write_text(config.read_text() + '\n[params.csg2a]\ndropout = 0.2\n')
    from drpkit.errors import DataError

    with pytest.raises(DataError, match="not tasks of .*other.toml"):
        merge_grid.merged_record(record, [], other)


def test_uncertainty_labels_follow_the_current_defaults(tmp_path, monkeypatch):
    """A row with resolved settings is labelled by what differs from the defaults at
    print time (a setting that was a default when fitted shows once it no longer is);
    a row without them keeps the params it was recorded with."""
    import json

    import doc_common
    import doc_tables_uq
    from bench_common import default_settings, resolved_settings

    old_default = resolved_settings("mmgnn", {"dim": 32, "trainer": {"weight_decay": 1e-5}})
    current = resolved_settings("mmgnn", {"dim": 32})
    assert default_settings("mmgnn")["trainer"]["weight_decay"] == 0.0
    legacy = {"model": "mmgnn", "seed": 0, "params": {"seed": 0, "heads": 2}}
    rows = [{"model": "mmgnn", "seed": 0, "settings": old_default, "params": {"seed": 0}},
            {"model": "mmgnn", "seed": 1, "settings": {**current, "seed": 1}}, legacy]
    (tmp_path / "u.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(doc_common, "RESULTS", tmp_path)
    params = [r["params"] for r in doc_tables_uq._rows("u.jsonl")]
    assert params == [{"seed": 0, "dim": 32, "trainer": {"weight_decay": 1e-5}},
                      {"seed": 1, "dim": 32}, {"seed": 0, "heads": 2}]
    assert doc_tables_uq._model_settings(params[0]) == " (dim=32, trainer.weight_decay=1e-05)"


def test_merge_grid_merges_only_blocks_every_model_finished(capsys):
    """A run's fold where one model has not finished stays out (printed), a fold the
    record completes goes in, and tasks of other kinds pass."""
    import merge_grid

    def task(model, fold, kind="cv"):
        return {"id": f"{kind}-{model}-{fold}", "kind": kind, "model": model,
                "split": "random", "seed": 0, "fold": fold}

    record = pd.DataFrame([task("a", 1)])
    run = pd.DataFrame([task("a", 0), task("b", 0), task("b", 1), task("a", 2),
                        task("a", None, "transfer")])
    kept = merge_grid.whole_blocks(run, [record, run], ["a", "b"])
    assert list(kept["id"]) == ["cv-a-0", "cv-b-0", "cv-b-1", "transfer-a-None"]
    assert "'fold': 2" in capsys.readouterr().out
