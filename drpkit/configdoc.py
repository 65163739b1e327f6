"""Every setting of a pydantic config class, with its default, type and doc.

``drpkit models NAME`` prints this table so that a user can see what ``-p
KEY=VALUE`` accepts without reading the source, and so that what they read is
derived from the config class itself and cannot drift from the code:

* the default is read from an instance of the class, so a nested block's
  model-specific defaults are shown (HGACL's ``trainer.max_epochs`` is 1000,
  not ``TrainerConfig``'s own 200);
* the type is the field's annotation;
* the doc is the field's ``Field(description=...)`` or else its entry in the
  ``Attributes:`` section of a class docstring, looked up along the MRO so
  that inherited fields keep the doc of the class that declared them;
* nested configs (``trainer: TrainerConfig``) become dotted keys
  (``trainer.lr``), the spelling ``-p`` takes.
"""
from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from typing import Any, TypeGuard, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

_SECTION = re.compile(r"^(\s*)Attributes:\s*$")
_ENTRY = re.compile(r"^([A-Za-z_][\w]*(?:\s*[,/]\s*[A-Za-z_]\w*)*)\s*:\s*(.*)$")


@dataclass(frozen=True)
class SettingDoc:
    """One row of a config description: ``key`` is dotted for nested settings;
    ``default`` is written as JSON, the syntax ``-p KEY=VALUE`` reads."""

    key: str
    type: str
    default: str
    doc: str


def docstring_attributes(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of ``cls``'s own docstring (not inherited) as
    ``{name: one-line text}``.

    Google style: one entry per ``name: text`` line, continuation lines
    indented deeper; ``a, b: text`` and ``a / b: text`` document several names.
    Whitespace is collapsed and RST double backticks become single ones, so
    each doc fits on one line of terminal output.
    """
    lines = inspect.cleandoc(cls.__dict__.get("__doc__") or "").splitlines()
    docs: dict[str, list[str]] = {}
    for start, line in enumerate(lines):
        header = _SECTION.match(line)
        if header is None:
            continue
        base = len(header.group(1))
        entry_indent: int | None = None
        names: list[str] = []
        for body in lines[start + 1:]:
            if not body.strip():
                continue
            indent = len(body) - len(body.lstrip())
            if indent <= base:
                break
            if entry_indent is None:
                entry_indent = indent
            match = _ENTRY.match(body.strip())
            if indent == entry_indent and match:
                names = re.split(r"\s*[,/]\s*", match.group(1))
                for name in names:
                    docs[name] = [match.group(2)]
            elif indent > entry_indent:
                for name in names:
                    docs[name].append(body.strip())
            else:
                break
    return {name: " ".join(" ".join(parts).split()).replace("``", "`")
            for name, parts in docs.items()}


def field_docs(cls: type[BaseModel]) -> dict[str, str]:
    """The doc of each field of ``cls``: its ``Field(description=...)``, else the
    first ``Attributes:`` entry for it along the MRO (subclass docs win); fields
    documented nowhere are left out."""
    from_docstrings: dict[str, str] = {}
    for klass in cls.__mro__:
        for name, text in docstring_attributes(klass).items():
            from_docstrings.setdefault(name, text)
    out = {}
    for name, field in cls.model_fields.items():
        doc = field.description or from_docstrings.get(name)
        if doc:
            out[name] = " ".join(doc.split())
    return out


def type_name(annotation: Any) -> str:
    """``int``, ``int | None``, ``list[Literal['view', 'responses']]``: the
    annotation as written in the source, without ``typing.`` prefixes."""
    if get_origin(annotation) is None and isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\btyping\.", "", repr(annotation))


def _is_config(annotation: Any) -> TypeGuard[type[BaseModel]]:
    """A nested config block (a pydantic model class, not ``list[...]`` etc.)."""
    return (get_origin(annotation) is None and isinstance(annotation, type)
            and issubclass(annotation, BaseModel))


def describe_config(cls: type[BaseModel], instance: BaseModel | None = None,
                    prefix: str = "") -> list[SettingDoc]:
    """Every setting of config class ``cls``, nested blocks flattened to dotted
    keys after a row for the block itself.

    ``instance`` supplies the defaults (``cls()`` when omitted); a field that
    has no default is shown as ``required``.
    """
    if instance is None:
        try:
            instance = cls()
        except ValidationError:
            instance = None
    docs = field_docs(cls)
    rows: list[SettingDoc] = []
    for name, field in cls.model_fields.items():
        key = f"{prefix}{name}"
        if instance is not None:
            value = getattr(instance, name)
        elif field.is_required():
            value = None
        else:
            value = field.get_default(call_default_factory=True)
        if _is_config(field.annotation) and isinstance(value, field.annotation):
            rows.append(SettingDoc(key, type_name(field.annotation), f"see {key}.*",
                                   docs.get(name, "")))
            rows.extend(describe_config(field.annotation, value, prefix=f"{key}."))
            continue
        default = ("required" if instance is None and field.is_required()
                   else json.dumps(to_jsonable_python(value)))
        rows.append(SettingDoc(key, type_name(field.annotation), default, docs.get(name, "")))
    return rows
