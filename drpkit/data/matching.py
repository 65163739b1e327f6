"""Matching the ids of a user's table to another table, and saying how.

Users spell cell lines and drugs their own way ('22Rv1', ' a673 ',
'23132/87', 'nutlin-3a'), while drpkit keys cells by the upper-case
alphanumeric form of the name (:func:`~drpkit.data.ids.normalise_cell_name`)
and drugs by structure, then by :func:`~drpkit.data.ids.drug_key`. Every
place that joins a user's table to another one (responses to an expression
file, a transfer target to its source, ``drpkit predict`` to a run) records
what it did in a :class:`MatchReport`, counts by rule plus examples of what
did not match, which the CLI prints: a join that silently lost half the
cells is the error users cannot see.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from drpkit.data.ids import drug_key, name_list, normalise_cell_name

# how many examples of each rule, and of unmatched ids, a report keeps
EXAMPLES = 5


@dataclass
class MatchReport:
    """How the ids of one table were found in another.

    Attributes:
        title: what was matched to what (``"cells: responses.csv -> expression.csv"``).
        total: ids looked up.
        rules: rule -> ids matched by it, in the order the rules were tried
            (``same spelling``, ``normalised name``, ``structure``, ``name``,
            ``borrowed from 'gdsc2'``...).
        examples: rule -> a few ``(given, matched)`` pairs whose spelling changed.
        unmatched: the ids (as given) that matched nothing.
        notes: further counts (pairs dropped, several drugs sharing one match...).
    """

    title: str
    total: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, rule: str, given: str, matched: str) -> None:
        """Count one id matched by ``rule`` (keeping an example when the spelling changed)."""
        self.total += 1
        self.rules[rule] = self.rules.get(rule, 0) + 1
        if given != matched and len(self.examples.setdefault(rule, [])) < EXAMPLES:
            self.examples[rule].append((given, matched))

    def miss(self, given: str) -> None:
        """Count one id that matched nothing."""
        self.total += 1
        self.unmatched.append(given)

    @property
    def matched(self) -> int:
        return self.total - len(self.unmatched)

    def lines(self) -> list[str]:
        """The report for a terminal: one summary line, then examples and notes."""
        rules = ", ".join(f"{n} by {rule}" for rule, n in self.rules.items() if n)
        head = f"{self.title}: {self.matched} of {self.total} matched" + (
            f" ({rules})" if rules else "")
        if self.unmatched:
            head += f"; {len(self.unmatched)} unmatched: {name_list(self.unmatched)}"
        out = [head]
        for rule, pairs in self.examples.items():
            if pairs:
                shown = ", ".join(f"{given!r} -> {matched!r}" for given, matched in pairs)
                out.append(f"  {rule}: {shown}" + (", ..." if self.rules[rule] > len(pairs)
                                                   else ""))
        out += [f"  {note}" for note in self.notes]
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (run configs, task results, ``.meta.json``)."""
        return {"title": self.title, "total": self.total, "rules": dict(self.rules),
                "examples": {k: [list(p) for p in v] for k, v in self.examples.items()},
                "unmatched": len(self.unmatched), "unmatched_examples": self.unmatched[:20],
                "notes": list(self.notes)}


def match_ids(title: str, given: Iterable[str], available: Iterable[str], normalise,
              spellings: dict[str, str] | None = None) -> tuple[dict[str, str], MatchReport]:
    """Each of ``given`` found in ``available``, as spelt, else after ``normalise``.

    Args:
        title: the report's title.
        given: ids as the user wrote them.
        available: ids of the other table.
        normalise: the key both sides are compared by
            (:func:`~drpkit.data.ids.normalise_cell_name`, :func:`~drpkit.data.ids.drug_key`).
        spellings: how ``available`` ids were spelt in their own file, for the
            ``same spelling`` rule (default: the ids themselves).

    Returns:
        given -> matched id of ``available``, and the report.
    """
    spellings = spellings or {}
    by_key: dict[str, str] = {}
    for ident in available:
        by_key.setdefault(normalise(ident), str(ident))
    report, out = MatchReport(title), {}
    for ident in dict.fromkeys(str(g) for g in given):
        matched = by_key.get(normalise(ident))
        if matched is None:
            report.miss(ident)
            continue
        out[ident] = matched
        same = ident == spellings.get(matched, matched)
        report.add("same spelling" if same else "normalised name", ident, matched)
    return out, report


def match_pairs(table: pd.DataFrame, name: str, *, file_cells: dict[str, str], known_cells,
                renamed: dict[str, str], known_drugs) -> tuple[pd.DataFrame, list[MatchReport]]:
    """A user's ``cell, drug`` pairs as a model is asked them (``drpkit predict``).

    Args:
        table: the pairs as the user spelt them.
        name: the pairs file's name, for the reports.
        file_cells: cells of the user's expression file (id -> spelling).
        known_cells: cells with expression (the file's and the training data's).
        renamed: drugs of the user's drugs file -> the training drug they are.
        known_drugs: training drugs and drugs with a SMILES.

    Returns:
        the pairs with normalised cells and matched drugs (a drug that matches
        nothing keeps its name), and the cell and drug reports.
    """
    known_cells = pd.Index(known_cells)
    cells = MatchReport(f"cells: {name} -> expression")
    for given in dict.fromkeys(table["cell"]):
        cell = normalise_cell_name(given)
        if cell in file_cells:
            cells.add("the expression file", given, file_cells[cell])
        elif cell in known_cells:
            cells.add("borrowing the training data's expression", given, cell)
        else:
            cells.miss(given)
    known = {str(d) for d in known_drugs}
    by_key = {drug_key(d): d for d in sorted(known)}
    drugs, named = MatchReport(f"drugs: {name} -> training drugs and --drugs"), {}
    for given in dict.fromkeys(table["drug"]):
        exact = renamed.get(given, given if given in known else None)
        match = exact or by_key.get(drug_key(given))
        if match is None:
            drugs.miss(given)
        else:
            drugs.add("same name or --drugs" if exact else "normalised name", given, match)
        named[given] = match or given
    query = pd.DataFrame({"cell": table["cell"].map(normalise_cell_name),
                          "drug": table["drug"].map(named)})
    return query, [cells, drugs]
