"""The ``drpkit`` command.

    drpkit data list                       # built-in datasets, raw sources, resources
    drpkit data fetch gdsc2                # download + verify + convert once
    drpkit data info gdsc2                 # cells, drugs, pairs, missingness, balance
    drpkit data info ppi --dataset gdsc2   # a resource: counts, licence, coverage of a dataset
    drpkit models                          # registered models
    drpkit models hgacl                    # one model: views, outputs, every setting + default
    drpkit train --dataset gdsc2 --model ridge --split cell-blind --out runs/ridge
    drpkit evaluate --dataset gdsc2 --models naive-drug,ridge --splits random,drug-blind
    drpkit predict runs/ridge --expression new_cells.csv --drugs new_drugs.csv --out pred.csv
    drpkit transfer --source gdsc2 --responses my_labels.csv --model ridge --out runs/mine
    drpkit benchmark grid.toml --out runs/grid   # resumable grid, local processes or Ray
    drpkit report runs/grid                      # self-contained HTML report + leaderboards
    drpkit explain runs/drgt --drug Lapatinib    # ranked genes per drug, figures, --validate
    drpkit pretrain csg2a --lincs GSE92742/ --out ckpt  # LINCS pretraining (CSG2A)

Every error a user can cause is printed as one line starting with ``error:``
(exit code 2) and leaves no half-written output behind. That includes usage
errors (unknown command or option, missing or extra argument, a bad value for
a typed option), which come after the command's usage line and never with a
traceback. A bare ``drpkit`` (or ``drpkit data``) prints the help and exits 0:
help is the expected answer there, not an error. An internal error (a bug)
prints one line saying how to see its traceback: ``drpkit --debug COMMAND ...``
or ``DRPKIT_DEBUG=1`` (exit code 1).
"""
from drpkit.cli import data, explain, models, pretrain, runs  # noqa: F401  - register the commands
from drpkit.cli.app import app, main, parse_model_params, parse_params

__all__ = ["app", "main", "parse_model_params", "parse_params"]

if __name__ == "__main__":
    main()
