"""Declared scenario parameters: the one source of truth for forms, links, the CLI and the WebSocket.

A value arrives either as a string (query string, form field, ``--set``) or
as JSON (WebSocket, API); both are parsed and bounded by the same ``Param``.
"""
import math
import re
from dataclasses import dataclass
from typing import Any, Callable


class ParamError(ValueError):
    """Invalid parameters: ``errors`` maps each field (``__all__`` for the whole set) to a message."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" if k != "__all__" else v for k, v in errors.items()))


TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is int, float, bool, choice, node, nodes or text.

    ``default`` and ``choices`` may be callables of the parameters parsed so far,
    so that a node list can depend on ``n``.
    """

    name: str
    kind: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple | Callable | None = None
    pattern: str | None = None
    max_length: int = 200
    label: str = ""

    def choices_for(self, params):
        return tuple(self.choices(params)) if callable(self.choices) else tuple(self.choices or ())

    def default_for(self, params):
        return self.default(params) if callable(self.default) else self.default

    def parse(self, raw, params):
        """Return the typed value of ``raw`` or raise ValueError with a sentence for the learner."""
        kind = self.kind
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError("must be a whole number")
            if isinstance(raw, str):
                if not re.fullmatch(r"\s*-?\d{1,12}\s*", raw):
                    raise ValueError("must be a whole number")
                raw = int(raw)
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            if not isinstance(raw, int):
                raise ValueError("must be a whole number")
            return self._bounded(raw)
        if kind == "float":
            if isinstance(raw, bool):
                raise ValueError("must be a number")
            if isinstance(raw, str):
                try:
                    raw = float(raw)
                except ValueError:
                    raise ValueError("must be a number") from None
            if not isinstance(raw, (int, float)) or not math.isfinite(raw):
                raise ValueError("must be a number")
            return self._bounded(float(raw))
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in TRUE | FALSE:
                return raw.strip().lower() in TRUE
            raise ValueError("must be true or false")
        if kind in ("choice", "node"):
            options = self.choices_for(params)
            if not isinstance(raw, str) or raw.strip() not in options:
                raise ValueError(f"must be one of {', '.join(options)}")
            return raw.strip()
        if kind == "nodes":
            options = self.choices_for(params)
            if isinstance(raw, str):
                raw = [part.strip() for part in raw.split(",") if part.strip()]
            if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
                raise ValueError("must be a comma-separated list of node ids")
            unknown = [x for x in raw if x not in options]
            if unknown:
                raise ValueError(f"unknown node {unknown[0]}; choose from {', '.join(options)}")
            if self.max is not None and len(set(raw)) > self.max:
                raise ValueError(f"at most {int(self.max)} nodes")
            return sorted(set(raw), key=options.index)
        if kind == "text":
            if not isinstance(raw, str):
                raise ValueError("must be text")
            raw = raw.strip()
            if len(raw) > self.max_length:
                raise ValueError(f"at most {self.max_length} characters")
            if self.pattern and not re.fullmatch(self.pattern, raw):
                raise ValueError(f"has the wrong form; {self.help}")
            return raw
        raise ValueError(f"unknown kind {kind}")

    def _bounded(self, value):
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {fmt(self.min)}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {fmt(self.max)}")
        return value

    def schema(self, params=None):
        """JSON description for the catalog API and the form."""
        params = params or {}
        out = {"name": self.name, "kind": self.kind, "label": self.label or self.name,
               "help": self.help, "default": self.default_for(params)}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.choices is not None:
            out["choices"] = list(self.choices_for(params))
        if self.pattern:
            out["pattern"] = self.pattern
        return out

    def bounds_text(self, params=None):
        """A short human description of what is allowed, shown beside the field."""
        if self.kind in ("int", "float"):
            return f"{fmt(self.min)}..{fmt(self.max)}"
        if self.kind == "bool":
            return "on / off"
        if self.kind in ("choice", "node"):
            return " | ".join(self.choices_for(params or {}))
        if self.kind == "nodes":
            return "ids, comma-separated: " + ", ".join(self.choices_for(params or {}))
        return self.help


def fmt(x):
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


def to_text(value):
    """A parameter value as it appears in a query string or on the command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return fmt(value) if isinstance(value, (int, float)) else str(value)


def parse_params(declared, raw):
    """Parse ``raw`` (a mapping of name to string or JSON value) against ``declared``.

    Missing values take their defaults; unknown names are errors. Returns the
    complete typed dict or raises ParamError naming every bad field.
    """
    if not isinstance(raw, dict):
        raise ParamError({"__all__": "params must be an object"})
    errors = {}
    known = {p.name for p in declared}
    for name in raw:
        if name not in known:
            errors[str(name)[:40]] = f"unknown parameter; expected one of {', '.join(sorted(known))}"
    params = {}
    for p in declared:
        if p.name in raw and raw[p.name] is not None:
            try:
                params[p.name] = p.parse(raw[p.name], params)
            except ValueError as e:
                errors[p.name] = str(e)
                params[p.name] = p.default_for(params)
        else:
            params[p.name] = p.default_for(params)
    if errors:
        raise ParamError(errors)
    return params
