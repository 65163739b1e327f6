"""The drpkit command as a newcomer meets it, run in-process through ``main()``.

Usage errors must read as usage errors (usage line, one ``error:`` line, exit
code 2), never as a crash; internal errors show a traceback only on request;
``drpkit models NAME`` describes a model from its config class; and every
``drpkit ...`` command quoted in the README, BENCHMARKS and the CLI's own
docstring must parse, so that documentation and command line cannot drift
apart. Nothing here loads a dataset.
"""
from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from conftest import run_cli as drpkit
from pydantic import BaseModel, Field

from drpkit import cli
from drpkit.cli import app
from drpkit.configdoc import describe_config, docstring_attributes, field_docs
from drpkit.models import MODELS

pytestmark = pytest.mark.cli

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "BENCHMARKS.md"]


@pytest.fixture(autouse=True)
def _clean_process(monkeypatch):
    """Each call of the app installs typer's excepthook: restore Python's after
    the test. DRPKIT_DEBUG from the environment must not change the results."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.delenv("DRPKIT_DEBUG", raising=False)




# ------------------------------------------------------------------ usage errors
def test_bare_drpkit_prints_the_help(monkeypatch, capsys):
    """No arguments is a request for help: the help page on stdout, exit 0."""
    code, out, err = drpkit(monkeypatch, capsys)
    assert code == 0, err
    assert "Usage: drpkit" in out and "evaluate" in out and "--debug" in out
    assert err == ""
    code, out, err = drpkit(monkeypatch, capsys, "data")
    assert code == 0 and "Usage: drpkit data" in out and "fetch" in out and err == ""


USAGE_ERRORS = [  # (arguments, command named in the usage line, part of the message)
    (["evaluate", "--nosuch"], "drpkit evaluate", "No such option: --nosuch"),
    (["nosuchcmd"], "drpkit", "No such command 'nosuchcmd'"),
    (["--nosuch", "models"], "drpkit", "No such option: --nosuch"),
    (["data", "info"], "drpkit data info", "Missing argument"),
    (["models", "hgacl", "extra"], "drpkit models", "unexpected extra argument"),
    (["evaluate"], "drpkit evaluate", "Missing option '--models'"),
    (["train", "--model", "ridge", "--out", "never", "--fold", "first"], "drpkit train",
     "Invalid value for '--fold'"),
    (["evaluate", "--models", "ridge", "--folds"], "drpkit evaluate",
     "Option '--folds' requires an argument"),
]


@pytest.mark.parametrize(("args", "usage", "message"), USAGE_ERRORS,
                         ids=[" ".join(args) for args, _, _ in USAGE_ERRORS])
def test_usage_errors_are_usage_line_and_one_error_line(monkeypatch, capsys, args, usage,
                                                         message):
    """Unknown command or option, missing or extra argument, bad or missing
    value: the usage line, the help hint, one ``error:`` line, exit code 2."""
    code, out, err = drpkit(monkeypatch, capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith(f"Usage: {usage} ")
    assert lines[1] == f"Try '{usage} --help' for help."
    assert lines[2].startswith("error: ") and message in lines[2]
    assert "Traceback" not in err and "╭" not in err


# --------------------------------------------------------------- internal errors
def _break_models_listing(monkeypatch, exc: BaseException) -> None:
    """Make ``drpkit models`` raise ``exc`` from inside the command."""
    def broken(frame):
        raise exc

    from drpkit.cli import models as models_command

    monkeypatch.setattr(models_command, "_echo_table", broken)


def test_internal_error_is_one_line_unless_debug_is_asked_for(monkeypatch, capsys):
    """A bug prints one line naming it and how to get the traceback (exit 1);
    ``--debug`` or DRPKIT_DEBUG=1 lets the exception (and its traceback) through."""
    _break_models_listing(monkeypatch, RuntimeError("boom\nsecond line"))
    monkeypatch.setenv("DRPKIT_DEBUG", "0")
    code, _, err = drpkit(monkeypatch, capsys, "models")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: internal error")
    assert "RuntimeError: boom" in err and "second line" not in err
    assert "--debug" in err and "DRPKIT_DEBUG=1" in err and "Traceback" not in err

    monkeypatch.delenv("DRPKIT_DEBUG")
    with pytest.raises(RuntimeError, match="boom"):
        drpkit(monkeypatch, capsys, "--debug", "models")
    monkeypatch.setenv("DRPKIT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        drpkit(monkeypatch, capsys, "models")


def test_exit_code_of_a_command_reaches_the_shell(monkeypatch, capsys):
    """``typer.Exit(n)`` (``drpkit benchmark`` with failed tasks exits 1) is
    returned, not raised, without standalone mode; main() must still exit n."""
    _break_models_listing(monkeypatch, typer.Exit(3))
    code, _, _ = drpkit(monkeypatch, capsys, "models")
    assert code == 3


# ------------------------------------------------------------------ models NAME
def _table(out: str) -> dict[str, list[str]]:
    """Rows of the settings table of ``drpkit models NAME``: key -> [type, default, doc]."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^-+( +-+){3}$", line))
    rows = {}
    for line in lines[start + 1:]:
        key, *rest = re.split(r" {2,}", line.rstrip())
        rows[key] = rest + [""] * (3 - len(rest))
    return rows


def _dotted_defaults(config: BaseModel, prefix: str = "") -> dict[str, object]:
    """Independent reference: every leaf setting of a config instance, dotted."""
    out: dict[str, object] = {}
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            out.update(_dotted_defaults(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def test_models_name_describes_views_outputs_and_every_setting(monkeypatch, capsys):
    """`drpkit models hgacl` (which BENCHMARKS.md promises): description, views,
    outputs, baseline, and every setting, nested ones dotted, with the model's
    own defaults (``trainer.max_epochs`` 1000, not TrainerConfig's 200) and docs."""
    cls = MODELS.get("hgacl")
    code, out, err = drpkit(monkeypatch, capsys, "models", "hgacl")
    assert code == 0, err
    assert cls.description in out
    assert re.search(r"cell views: expression\n", out)
    assert re.search(r"optional views: cnv, mutation\n", out)
    assert re.search(r"drug views: pubchem920 or smiles\n", out)
    assert re.search(r"outputs: score\n", out) and re.search(r"baseline: no\n", out)
    rows = _table(out)
    leaves = _dotted_defaults(cls.Config())
    assert set(rows) == set(leaves) | {"trainer", "uncertainty"}  # nested blocks
    for key, value in leaves.items():
        assert rows[key][1] == json.dumps(value), key
    assert rows["trainer.max_epochs"][1] == "1000"
    assert rows["n_genes"][0] == "int | None"
    assert rows["nodes"][0] == "Literal['inductive', 'transductive']"
    assert [key for key, (_, _, doc) in rows.items() if not doc] == []
    assert rows["k"][2] == "reliable neighbours kept per cell and per drug (10 in the paper)."


@pytest.mark.parametrize("name", MODELS.names())
def test_every_setting_of_every_model_has_a_doc(monkeypatch, capsys, name):
    """`drpkit models NAME` documents each key `-p KEY=VALUE` takes, for every model."""
    code, out, err = drpkit(monkeypatch, capsys, "models", name)
    assert code == 0, err
    assert [key for key, (_, _, doc) in _table(out).items() if not doc] == []


def test_models_name_takes_docs_of_inherited_fields_from_the_mro(monkeypatch, capsys):
    """MTIGCNConfig documents only its own fields; its inherited ones (and its
    overridden ``trainer``) get the docs of NIHGCNConfig and GraphConfig, its bases."""
    from drpkit.models.graph import GraphConfig

    base = MODELS.get("nihgcn").Config
    code, out, _ = drpkit(monkeypatch, capsys, "models", "mtigcn")
    assert code == 0
    rows = _table(out)
    assert rows["n_genes"][2] == docstring_attributes(GraphConfig)["n_genes"]
    assert rows["trainer"][2] == docstring_attributes(base)["trainer"]
    assert rows["bce_weight"][2] == "weight of the sensitivity BCE."
    assert rows["trainer.max_epochs"][1] == "2000"


def test_models_unknown_name_is_one_error_line(monkeypatch, capsys):
    code, out, err = drpkit(monkeypatch, capsys, "models", "resnet")
    assert code == 2 and out == ""
    assert err.startswith("error: unknown model 'resnet'") and err.count("\n") == 1
    assert "hgacl" in err


def test_models_without_name_still_lists_every_model(monkeypatch, capsys):
    code, out, _ = drpkit(monkeypatch, capsys, "models")
    assert code == 0
    assert all(f"| {name} " in out for name in MODELS)


# ------------------------------------------------------- config docs, in isolation
class _Inner(BaseModel):
    """Inner block.

    Attributes:
        lr: step size.
    """

    lr: float = 0.1
    momentum: float = 0.9


class _Base(BaseModel):
    """Base.

    Attributes:
        alpha: first line of a doc
            that continues here.
        beta, gamma: shared doc.
        inner: the inner block.

    Notes:
        alpha: not an attribute entry.
    """

    alpha: int = 1
    beta: str = "x"
    gamma: list[int] = Field(default_factory=lambda: [1, 2])
    inner: _Inner = _Inner(lr=0.5)


class _Child(_Base):
    """Child; documents beta again and gives delta a Field description.

    Attributes:
        beta: the child's doc wins.
    """

    delta: float | None = Field(default=None, description="from  the Field.")
    beta: str = "y"


def test_config_docs_from_fields_docstrings_and_mro():
    """Field(description) first, then the nearest class along the MRO that
    documents the field; continuation lines joined; other sections ignored."""
    assert docstring_attributes(_Base) == {
        "alpha": "first line of a doc that continues here.", "beta": "shared doc.",
        "gamma": "shared doc.", "inner": "the inner block."}
    docs = field_docs(_Child)
    assert docs["alpha"] == "first line of a doc that continues here."
    assert docs["beta"] == "the child's doc wins."
    assert docs["delta"] == "from the Field."
    rows = {row.key: row for row in describe_config(_Child)}
    assert list(rows) == ["alpha", "beta", "gamma", "inner", "inner.lr", "inner.momentum",
                          "delta"]
    assert rows["inner.lr"].default == "0.5"  # the parent's default instance, not _Inner's
    assert rows["inner.lr"].doc == "step size." and rows["inner.momentum"].doc == ""
    assert rows["gamma"].type == "list[int]" and rows["gamma"].default == "[1, 2]"
    assert rows["delta"].type == "float | None" and rows["delta"].default == "null"
    assert rows["beta"].default == '"y"'


# ------------------------------------------------------ commands quoted in the docs
_PROGRAM = re.compile(r"^(?:\.venv/bin/)?drpkit\s")


def _commands_in_markdown(text: str) -> list[str]:
    """Every ``drpkit`` command line in a Markdown text: lines of fenced and
    indented code blocks (continuation lines joined) and inline code spans (which
    may wrap across a line break), each as one line of shell."""
    commands: list[str] = []
    prose: list[str] = []
    fenced = False
    lines = text.replace("\\\n", " ").splitlines()
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
            prose.append("")
            continue
        if fenced or line.startswith("    "):
            if _PROGRAM.match(line.strip()):
                commands.append(line.strip())
            prose.append("")
        else:
            prose.append(line)
    for span in re.findall(r"`([^`]+)`", "\n".join(prose)):
        span = " ".join(span.split())
        if _PROGRAM.match(span):
            commands.append(span)
    return commands


def _documented_commands() -> list[tuple[str, str]]:
    """(source, command) for README.md, BENCHMARKS.md and drpkit/cli.py's docstring."""
    found = [(path.name, command) for path in DOCS
             for command in _commands_in_markdown(path.read_text())]
    found += [("cli.py", line.strip()) for line in (cli.__doc__ or "").splitlines()
              if _PROGRAM.match(line.strip())]
    return found


DOCUMENTED = _documented_commands()


def test_documented_commands_are_found():
    """The extraction sees code blocks, continuation lines and wrapped inline
    spans (a silent empty list would make the next test vacuous)."""
    commands = [command for _, command in DOCUMENTED]
    assert "drpkit models hgacl" in commands  # BENCHMARKS.md, wrapped across two lines
    assert any(c.startswith(".venv/bin/drpkit evaluate --dataset ccle-nihgcn") and "-p" in c
               for c in commands)  # README.md, continuation line
    assert {source for source, _ in DOCUMENTED} == {"README.md", "BENCHMARKS.md", "cli.py"}


def _tokens(command: str) -> list[str]:
    """Shell words of a command up to the first pipe, redirection or ``;``, read
    the way docs write synopses: ``[--drugs FILE]`` is an optional option and
    ``...`` stands for words left out."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="();<>|&")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words = []
    for word in lexer:
        if set(word) <= set("();<>|&"):
            break
        if word.startswith("[-") and word.endswith("]"):  # "[--validate]"
            word = word[1:-1]
        elif word.count("[") > word.count("]"):  # "[--drugs", not "layers=[512]"
            word = word.removeprefix("[")
        elif word.count("]") > word.count("["):
            word = word.removesuffix("]")
        if word and word not in ("...", "…"):
            words.append(word)
    return words


def _check_command(command: str) -> tuple[list[str], list[str]]:
    """Walk ``command``'s words through the click command tree: the subcommand
    path and the problems (unknown subcommand or flag, a flag missing its
    value, more positional arguments than the command takes)."""
    node = typer.main.get_command(app)
    path: list[str] = []
    problems: list[str] = []
    positionals = 0
    words = _tokens(command)[1:]
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("-") and word != "-":
            flag = word.split("=", 1)[0]
            options = {opt: param for param in node.params if param.param_type_name == "option"
                       for opt in [*param.opts, *param.secondary_opts]}
            if flag == "--help":
                continue
            if flag not in options:
                problems.append(f"{flag} is not an option of drpkit {' '.join(path)}".rstrip())
                continue
            param = options[flag]
            takes = 0 if param.is_flag or param.count else param.nargs
            if "=" not in word:
                if i + takes > len(words):
                    problems.append(f"{flag} needs a value")
                i += takes
        elif getattr(node, "commands", None) and not positionals:
            if re.fullmatch(r"[A-Z][A-Z_]*", word):  # a placeholder: `drpkit --debug COMMAND`
                return path, problems
            if word not in node.commands:
                problems.append(f"{word!r} is not a subcommand of drpkit {' '.join(path)}")
                break
            node = node.commands[word]
            path.append(word)
        else:
            positionals += 1
    arguments = [p for p in node.params if p.param_type_name == "argument"]
    if any(p.nargs == -1 for p in arguments):
        return path, problems
    if positionals > sum(p.nargs for p in arguments):
        problems.append(f"{positionals} positional argument(s); drpkit {' '.join(path)} takes "
                        f"{sum(p.nargs for p in arguments)}")
    return path, problems


@pytest.mark.parametrize(("source", "command"), DOCUMENTED,
                         ids=[f"{source}: {command[:60]}" for source, command in DOCUMENTED])
def test_documented_command_parses(monkeypatch, capsys, source, command):
    """Each quoted command names an existing subcommand whose ``--help`` works,
    and uses only that subcommand's options and number of arguments."""
    path, problems = _check_command(command)
    assert not problems, f"{source}: `{command}`: {'; '.join(problems)}"
    code, out, err = drpkit(monkeypatch, capsys, *path, "--help")
    assert code == 0, err
    assert f"Usage: {' '.join(['drpkit', *path])} " in out
