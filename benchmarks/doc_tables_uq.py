"""Generator of the BENCHMARKS.md uncertainty table (issue 17): coverage, width and
AURC per model, calibration and split (``uncertainty_gdsc2.jsonl`` of
``bench_uncertainty.py``). Registered into ``doc_common.GENERATORS``."""
from __future__ import annotations

import pandas as pd
from doc_common import generator, md_table, read_jsonl
from doc_common import mean_sd_text as _ms


@generator("uncertainty")
def uncertainty(args: list[str]) -> str:
    """90% intervals of each (model, setting, split): mean ± sd over folds."""
    frame = pd.DataFrame(read_jsonl("uncertainty_gdsc2.jsonl"))
    frame["setting"] = frame["params"].map(
        lambda p: ", ".join(f"{k}={v}" for k, v in p["uncertainty"].items()))
    rows = []
    for (model, setting, split), part in frame.groupby(["model", "setting", "split"], sort=False):
        rows.append([model, f"`{setting}`", split, str(len(part)),
                     _ms(100 * part["interval_coverage"], 1) + " %",
                     _ms(part["interval_width_mean"], 2), _ms(part["interval_drug_coverage_sd"]),
                     _ms(part["interval_drug_coverage_min"]), _ms(part["aurc"]),
                     _ms(part["aurc_constant"])])
    return md_table(["model", "uncertainty", "split", "folds", "coverage (nominal 90 %)",
                     "mean width (ln IC50)", "per-drug coverage sd", "worst drug's coverage",
                     "AURC", "AURC constant width"], rows,
                    ["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"])
