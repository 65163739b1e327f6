"""Check that every table of BENCHMARKS.md and README.md is what its command prints.

Convention: each table is preceded by an HTML comment naming the command that
prints it and followed by a closing comment::

    <!-- table: .venv/bin/python benchmarks/doc_tables.py executors -->
    | executor | workers x threads | ... |
    |---|---|...|
    | local | 1 x 2 (sequential reference) | ... |
    <!-- /table -->

The command must read only committed files (no data download, no training) and
take seconds. It runs from the repository root, without a shell, a leading
``.venv/bin/python`` (or ``python``) replaced by this interpreter. If its output
holds several Markdown tables, ``--pick N`` at the end of the comment (not passed
to the command) selects the N-th (1-based); otherwise it must print exactly one.
The comment may span lines (they are joined with spaces).

The check compares the tables cell by cell after whitespace normalisation and
exits 1 listing each mismatch (file, line, command, first differing row), each
command that fails, and each Markdown table outside a marker in BENCHMARKS.md or
in README.md's Results section (so a new table cannot skip its provenance)::

    .venv/bin/python benchmarks/check_tables.py            # check
    .venv/bin/python benchmarks/check_tables.py --fix      # rewrite tables from the commands

``--fix`` replaces each differing table with the command's output (the file is
rewritten atomically); unmarked tables and failing commands are only reported.
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("BENCHMARKS.md", "README.md")
# where every table must be marked: the whole file, or only the named "## " section
REQUIRED_SECTION = {"README.md": "Results"}
START = re.compile(r"^\s*<!--\s*table:(.*)$")
END = re.compile(r"^\s*<!--\s*/table\s*-->\s*$")
DELIMITER_CELL = re.compile(r"^:?-+:?$")
FENCE = re.compile(r"^\s*(```|~~~)")
PYTHONS = {".venv/bin/python", "python", "python3"}


@dataclass
class Block:
    """A marked table: the command and the table lines (0-based indices into the file)."""

    path: Path
    line: int  # the marker's line, 0-based
    command: str
    first: int = -1  # first table line
    table: list[str] = field(default_factory=list)


def split_row(line: str) -> list[str]:
    """Cells of a Markdown table row, whitespace-normalised (``\\|`` stays in its cell)."""
    text = line.strip()
    text = text.removeprefix("|")
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    cells = re.split(r"(?<!\\)\|", text)
    return [re.sub(r"\s+", " ", c.strip()) for c in cells]


def is_delimiter(line: str) -> bool:
    cells = split_row(line)
    return line.strip().startswith("|") and all(DELIMITER_CELL.match(c) for c in cells)


def normalised(line: str) -> list[str]:
    cells = split_row(line)
    if all(DELIMITER_CELL.match(c) for c in cells):  # |---| == | ----- |
        return [(":" if c.startswith(":") else "") + "---" + (":" if c.endswith(":") else "")
                for c in cells]
    return cells


def tables_in(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(first line index, lines) of each Markdown table: a ``|`` row, then a delimiter row."""
    out, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and is_delimiter(lines[i + 1]):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            out.append((i, lines[i:j]))
            i = j
        else:
            i += 1
    return out


def parse(path: Path) -> tuple[list[Block], list[str]]:
    """Marked blocks of ``path`` and problems (unclosed or malformed markers, unmarked tables)."""
    lines = path.read_text().splitlines()
    section = REQUIRED_SECTION.get(path.name)
    blocks, problems = [], []
    visible = [""] * len(lines)  # lines where an unmarked table is an error
    current, fenced, required = None, False, section is None
    i = 0
    while i < len(lines):
        line = lines[i]
        if current is None:
            if FENCE.match(line):
                fenced = not fenced
            elif not fenced and line.startswith("## "):
                required = section is None or line[3:].strip() == section
            if fenced or not START.match(line):
                visible[i] = line if required and not fenced else ""
                i += 1
                continue
            text, start = START.match(line).group(1), i  # the command may span lines
            while "-->" not in text and i + 1 < len(lines):
                i += 1
                text += " " + lines[i].strip()
            command = text.split("-->")[0].strip()
            current = Block(path, start, command)
            if not command:
                problems.append(f"{path}:{start + 1}: table marker without a command")
        elif END.match(line):
            if not current.table:
                problems.append(f"{path}:{current.line + 1}: marker holds no table")
            blocks.append(current)
            current = None
        elif START.match(line):
            problems.append(f"{path}:{i + 1}: table marker inside the marker of line "
                            f"{current.line + 1} (missing <!-- /table -->)")
            current = None
            continue
        elif line.lstrip().startswith("|"):
            if current.table and current.first + len(current.table) != i:
                problems.append(f"{path}:{i + 1}: more than one table inside one marker")
            if not current.table:
                current.first = i
            current.table.append(line)
        elif line.strip():
            problems.append(f"{path}:{i + 1}: text inside a table marker (only the table "
                            "belongs between <!-- table: ... --> and <!-- /table -->)")
        i += 1
    if current is not None:
        problems.append(f"{path}:{current.line + 1}: table marker without <!-- /table -->")
    for first, _ in tables_in(visible):
        problems.append(f"{path}:{first + 1}: table without a <!-- table: COMMAND --> marker "
                        "(every table must name the command that prints it)")
    return blocks, problems


def argv_of(command: str) -> tuple[list[str], int | None]:
    """The command's argv (interpreter replaced) and the ``--pick N`` it ends with, if any."""
    argv = shlex.split(command)
    pick = None
    if len(argv) >= 2 and argv[-2] == "--pick":
        pick, argv = int(argv[-1]), argv[:-2]
    if argv and argv[0] in PYTHONS:
        argv[0] = sys.executable
    return argv, pick


def run(command: str, root: Path, timeout: float) -> tuple[str | None, str]:
    """(stdout, error): stdout is None when the command failed."""
    argv, _ = argv_of(command)
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    except OSError as err:
        return None, str(err)
    if done.returncode:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return None, f"exit status {done.returncode}\n      {tail}"
    return done.stdout, ""


def generated_table(output: str, pick: int | None) -> tuple[list[str] | None, str]:
    tables = tables_in(output.splitlines())
    if pick is None and len(tables) != 1:
        return None, (f"the command printed {len(tables)} tables; name one with --pick N "
                      "at the end of the marker")
    if pick is not None and not 1 <= pick <= len(tables):
        return None, f"--pick {pick}, but the command printed {len(tables)} tables"
    return tables[(pick or 1) - 1][1], ""


def compare(block: Block, table: list[str]) -> str:
    """'' when equal, else the first differing row."""
    for k in range(max(len(block.table), len(table))):
        ours = block.table[k] if k < len(block.table) else None
        theirs = table[k] if k < len(table) else None
        if ours is None or theirs is None or normalised(ours) != normalised(theirs):
            where = block.first + min(k, len(block.table)) + 1
            return (f"first differing row (line {where}):\n"
                    f"      document:  {ours if ours is not None else '(no row)'}\n"
                    f"      generated: {theirs if theirs is not None else '(no row)'}")
    return ""


def check(paths: list[Path], root: Path = ROOT, fix: bool = False, timeout: float = 120,
          jobs: int = 2, cache: dict | None = None) -> tuple[list[str], int]:
    """Problems found (empty: all good) and the number of marked tables compared.

    ``cache`` maps a command to its ``run`` result and is filled in; pass the same dict to
    several calls to run each command once."""
    cache = {} if cache is None else cache
    parsed = {path: parse(path) for path in paths}
    problems = [p for _, found in parsed.values() for p in found]
    commands = sorted({b.command for blocks, _ in parsed.values() for b in blocks
                       if b.command and b.command not in cache})
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for command, result in zip(commands, pool.map(lambda c: run(c, root, timeout),
                                                      commands), strict=True):
            cache[command] = result
    checked = 0
    for path, (blocks, _) in parsed.items():
        replacements = []
        for block in blocks:
            if not block.command or not block.table:
                continue
            checked += 1
            head = f"{path}:{block.line + 1}: `{block.command}`"
            try:
                _, pick = argv_of(block.command)
            except ValueError as err:
                problems.append(f"{head}: cannot parse the command ({err})")
                continue
            output, error = cache[block.command]
            if output is None:
                problems.append(f"{head} failed: {error}")
                continue
            table, error = generated_table(output, pick)
            if table is None:
                problems.append(f"{head}: {error}")
                continue
            difference = compare(block, table)
            if difference:
                problems.append(f"{head}: table differs from the command's output; "
                                + difference)
                replacements.append((block, table))
        if fix and replacements:
            rewrite(path, replacements)
    return problems, checked


def rewrite(path: Path, replacements: list[tuple[Block, list[str]]]) -> None:
    """Replace each block's table by the generated one, keeping the document's lines where
    they differ only in whitespace; atomic (sibling file, rename)."""
    from drpkit.atomic import atomic_write_text

    lines = path.read_text().splitlines()
    for block, table in sorted(replacements, key=lambda r: -r[0].first):
        if len(table) == len(block.table):
            table = [ours if normalised(ours) == normalised(theirs) else theirs
                     for ours, theirs in zip(block.table, table, strict=True)]
        lines[block.first:block.first + len(block.table)] = table
    atomic_write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="*", type=Path,
                        help=f"documents to check (default: {', '.join(DOCS)} of the repository)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="directory the commands run in (default: the repository root)")
    parser.add_argument("--fix", action="store_true",
                        help="rewrite differing tables from their commands' output")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per command")
    parser.add_argument("--jobs", type=int, default=2, help="commands run at a time")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    docs = args.docs or [args.root / name for name in DOCS]
    docs = [d.relative_to(Path.cwd()) if d.is_absolute() and d.is_relative_to(Path.cwd()) else d
            for d in docs]
    problems, checked = check(docs, args.root, args.fix, args.timeout, args.jobs)
    for problem in problems:
        print(problem)
    fixed = " (differing tables rewritten)" if args.fix else ""
    print(f"{checked} marked tables in {len(docs)} file(s); {len(problems)} problem(s){fixed}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
