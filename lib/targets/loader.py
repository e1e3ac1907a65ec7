"""Read a targets file (YAML or CSV) into a validated :class:`TargetsFile`.

Both formats are first turned into the same raw mapping, while a *locator*
remembers where each item came from (YAML: item path + line; CSV: 1-based data
row + column). The pydantic models then judge every item, and
:func:`_check_references` judges what needs the registry or several items.
The first problem found becomes ONE :class:`lib.errors.InputError` naming the
file, the row/location, the field and the rule; nothing partial is returned.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from lib.errors import InputError
from lib.targets.models import GROSS_WEIGHT_TOLERANCE, TargetsFile

__all__ = [
    "CSV_HEADERS",
    "TARGET_SUFFIXES",
    "load_targets",
]

TARGET_SUFFIXES = (".yaml", ".yml", ".csv")

#: CSV kind -> its exact column set (any order). One kind per file.
CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "trades": ("sleeve", "symbol", "side", "quantity"),
    "quantity": ("sleeve", "symbol", "target_quantity"),
    "weight": ("sleeve", "symbol", "target_weight"),
}

_Path = tuple[str | int, ...]
_WHOLE_FILE = "<file>"


class _Locator(Protocol):
    def error(self, path: _Path, rule: str, *, key: bool = False) -> InputError: ...

    def describe(self, path: _Path) -> str: ...


def _longest_prefix(table: Mapping[_Path, int], path: _Path) -> int | None:
    for end in range(len(path), -1, -1):
        hit = table.get(path[:end])
        if hit is not None:
            return hit
    return None


def _fmt(path: _Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


class _YamlLocator:
    """Item paths (``sleeves.trend.trades[2]``, 0-based indices) plus the line."""

    def __init__(self, file: str, lines: dict[_Path, int]) -> None:
        self.file = file
        self.lines = lines

    def describe(self, path: _Path) -> str:
        line = _longest_prefix(self.lines, path)
        return _fmt(path) + (f" (line {line})" if line is not None else "")

    def error(self, path: _Path, rule: str, *, key: bool = False) -> InputError:
        if path and isinstance(path[-1], str):
            where, field = path[:-1], path[-1]
        else:
            where, field = path, "(item)"
        line = _longest_prefix(self.lines, path)
        location = _fmt(where) + (f" (line {line})" if line is not None else "")
        return InputError(self.file, None, field, rule, location=location)


class _CsvLocator:
    """1-based data rows (the header is row 0) and column names."""

    def __init__(self, file: str, rows: dict[_Path, int], kind: str) -> None:
        self.file = file
        self.rows = rows
        self.value_column = {"quantity": "target_quantity", "weight": "target_weight"}.get(kind)

    def describe(self, path: _Path) -> str:
        row = _longest_prefix(self.rows, path)
        return f"row {row}" if row is not None else "file"

    def error(self, path: _Path, rule: str, *, key: bool = False) -> InputError:
        row = _longest_prefix(self.rows, path)
        last = path[-1] if path else ""
        if key:
            field = "symbol"
        elif (len(path) >= 2 and path[-2] in ("positions", "weights")) or last in (
            "positions",
            "weights",
        ):
            field = self.value_column or "(row)"
        elif last in ("symbol", "side", "quantity"):
            field = str(last)
        elif len(path) == 2 and path[0] == "sleeves":
            field = "sleeve"
        else:
            field = "(row)"
        return InputError(self.file, row, field, rule)


# --------------------------------------------------------------------------- YAML


def _yaml_lines(file: str, node: yaml.Node, path: _Path, lines: dict[_Path, int]) -> None:
    """Record the line of every item and refuse duplicate mapping keys (PyYAML
    would silently keep the last one, hiding a duplicate sleeve or symbol)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _YamlLocator(file, lines | {path + (key,): line}).error(
                    path + (key,),
                    f"duplicate key {key!r} (first at line {seen[key]}); "
                    "each sleeve, symbol and key may appear once",
                )
            seen[key] = line
            lines[path + (key,)] = line
            _yaml_lines(file, value_node, path + (key,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(file, item, path + (i,), lines)


def _parse_yaml(file: str, text: str) -> tuple[Any, _Locator]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(file, None, _WHOLE_FILE, "file is empty (no YAML content)")
        lines: dict[_Path, int] = {}
        _yaml_lines(file, node, (), lines)
        raw = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            file, None, _WHOLE_FILE, f"not valid YAML: {problem}", location=where
        ) from exc
    finally:
        loader.dispose()
    return raw, _YamlLocator(file, lines)


# --------------------------------------------------------------------------- CSV


def _parse_csv(file: str, text: str) -> tuple[Any, _Locator]:
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(file, None, _WHOLE_FILE, f"not valid CSV: {exc}") from exc
    header = [c.strip().lower() for c in table[0]]
    kind = next((k for k, cols in CSV_HEADERS.items() if sorted(cols) == sorted(header)), None)
    if kind is None:
        allowed = " | ".join(",".join(cols) for cols in CSV_HEADERS.values())
        raise InputError(
            file,
            None,
            "header",
            f"columns must be exactly one of: {allowed}; got {','.join(header)}",
            location="header (line 1)",
        )
    col = {name: header.index(name) for name in header}
    rows: dict[_Path, int] = {}
    sleeves: dict[str, Any] = {}
    gross: dict[str, float] = {}
    n_data = 0
    for row_no, cells in enumerate(table[1:], start=1):
        if not any(c.strip() for c in cells):
            continue  # blank line: skipped, but it still counts as a row number
        if len(cells) != len(header):
            raise InputError(
                file, row_no, "(row)", f"expected {len(header)} columns, got {len(cells)}"
            )
        n_data += 1
        sleeve = cells[col["sleeve"]].strip()
        symbol = cells[col["symbol"]].strip()
        if not sleeve:
            raise InputError(file, row_no, "sleeve", "is empty; every row names its sleeve")
        rows.setdefault(("sleeves", sleeve), row_no)
        if kind == "trades":
            trades = sleeves.setdefault(sleeve, {"trades": []})["trades"]
            rows[("sleeves", sleeve, "trades", len(trades))] = row_no
            trades.append(
                {"symbol": symbol, "side": cells[col["side"]], "quantity": cells[col["quantity"]]}
            )
            continue
        key = "positions" if kind == "quantity" else "weights"
        rows.setdefault(("sleeves", sleeve, "targets"), row_no)
        values = sleeves.setdefault(sleeve, {"targets": {"mode": kind, key: {}}})["targets"][key]
        sym_path: _Path = ("sleeves", sleeve, "targets", key, symbol)
        if symbol in values:
            raise InputError(
                file,
                row_no,
                "symbol",
                f"duplicate row: sleeve {sleeve!r} symbol {symbol!r} already on row {rows[sym_path]}",
            )
        rows[sym_path] = row_no
        values[symbol] = cells[col[f"target_{kind}"]]
        if kind == "weight":
            # Remember the row where the gross sum first passes 1, so the
            # weights-sum error points at it rather than at the sleeve.
            try:
                gross[sleeve] = gross.get(sleeve, 0.0) + abs(float(values[symbol]))
            except ValueError:
                pass  # the model reports the bad number itself
            if gross.get(sleeve, 0.0) > 1.0 + GROSS_WEIGHT_TOLERANCE:
                rows.setdefault(("sleeves", sleeve, "targets", "weights"), row_no)
    if n_data == 0:
        raise InputError(file, None, _WHOLE_FILE, "file is empty (a header but no data rows)")
    return {"sleeves": sleeves}, _CsvLocator(file, rows, kind)


# --------------------------------------------------------------------------- rules


def _validate(file: str, raw: Any, locator: _Locator) -> TargetsFile:
    if not isinstance(raw, dict):
        raise InputError(
            file,
            None,
            "<root>",
            f"must be a mapping with a 'sleeves' key, got {type(raw).__name__}",
        )
    if "source" in raw:
        raise locator.error(("source",), "unknown key (allowed: rebalance, sleeves, pairs)")
    try:
        return TargetsFile.model_validate({**raw, "source": file})
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc: _Path = tuple(first["loc"])
        key = bool(loc) and loc[-1] == "[key]"
        if key:
            loc = loc[:-1]
        rule = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            rule = "unknown key (see config/targets.example.yaml for the allowed keys)"
        elif first["type"] not in ("missing", "value_error") and "input" in first:
            rule = f"{rule} (got {first['input']!r})"
        if len(errors) > 1:
            rule += f" (+{len(errors) - 1} more problem(s) in this file)"
        raise locator.error(loc, rule, key=key) from None


def _check_references(model: TargetsFile, registry: Mapping[str, Any], where: _Locator) -> None:
    """Registry symbols, duplicate trades, and pair legs that match a request."""

    def unknown(symbol: str) -> str:
        return f"unknown symbol {symbol!r} (not in the instrument registry)"

    for name, request in model.iter_requests():
        base: _Path = ("sleeves", name)
        if request.trades is not None:
            first_at: dict[str, _Path] = {}
            for i, trade in enumerate(request.trades):
                path = base + ("trades", i, "symbol")
                if trade.symbol not in registry:
                    raise where.error(path, unknown(trade.symbol))
                if trade.symbol in first_at:
                    raise where.error(
                        path,
                        f"duplicate row: sleeve {name!r} already trades {trade.symbol!r} "
                        f"at {where.describe(first_at[trade.symbol])}",
                    )
                first_at[trade.symbol] = base + ("trades", i)
        elif request.targets is not None:
            key = "positions" if request.targets.positions is not None else "weights"
            for symbol in request.targets.symbols():
                if symbol not in registry:
                    raise where.error(base + ("targets", key, symbol), unknown(symbol), key=True)
    groups: dict[str, int] = {}
    leg_group: dict[tuple[str, str], str] = {}
    for i, pair in enumerate(model.pairs):
        base = ("pairs", i)
        if pair.group in groups:
            raise where.error(
                base + ("group",),
                f"duplicate pair group {pair.group!r} (also pairs[{groups[pair.group]}])",
            )
        groups[pair.group] = i
        if pair.hedge_symbol is not None and pair.hedge_symbol not in registry:
            raise where.error(base + ("hedge_symbol",), unknown(pair.hedge_symbol))
        for j, leg in enumerate(pair.legs):
            leg_path = base + ("legs", j)
            if leg.sleeve not in model.sleeves:
                raise where.error(
                    leg_path + ("sleeve",),
                    f"unknown sleeve {leg.sleeve!r}; sleeves in this file: {sorted(model.sleeves)}",
                )
            if leg.symbol not in registry:
                raise where.error(leg_path + ("symbol",), unknown(leg.symbol))
            if leg.symbol not in model.sleeves[leg.sleeve].symbols():
                raise where.error(
                    leg_path + ("symbol",),
                    f"sleeve {leg.sleeve!r} has no trade or target for {leg.symbol!r}; "
                    "a pair leg must refer to one",
                )
            if (leg.sleeve, leg.symbol) in leg_group:
                raise where.error(
                    leg_path + ("symbol",),
                    f"leg {leg.sleeve}/{leg.symbol} is already in pair "
                    f"{leg_group[(leg.sleeve, leg.symbol)]!r}; a leg belongs to one pair",
                )
            leg_group[(leg.sleeve, leg.symbol)] = pair.group


def load_targets(path: str | Path, registry: Mapping[str, Any]) -> TargetsFile:
    """Load and validate a targets file (.yaml/.yml or .csv).

    ``registry`` is the :class:`lib.instruments.InstrumentRegistry` (any
    mapping keyed by symbol works). Raises :class:`lib.errors.InputError`
    naming the file, row/location, field and rule on the first problem.
    """
    p = Path(path)
    file = str(p)
    if p.suffix.lower() not in TARGET_SUFFIXES:
        raise InputError(
            file,
            None,
            _WHOLE_FILE,
            f"unsupported file type {p.suffix or '(none)'!r}: targets must be .yaml, .yml or .csv",
        )
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(file, None, _WHOLE_FILE, "file not found") from None
    except OSError as exc:
        raise InputError(file, None, _WHOLE_FILE, f"cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")  # -sig: tolerate the BOM Excel writes
    except UnicodeDecodeError as exc:
        raise InputError(
            file, None, _WHOLE_FILE, f"not UTF-8 text (undecodable byte at offset {exc.start})"
        ) from exc
    if "\x00" in text:
        raise InputError(file, None, _WHOLE_FILE, "not a text file (contains NUL bytes)")
    if not text.strip():
        raise InputError(file, None, _WHOLE_FILE, "file is empty")
    if p.suffix.lower() == ".csv":
        raw, locator = _parse_csv(file, text)
    else:
        raw, locator = _parse_yaml(file, text)
    model = _validate(file, raw, locator)
    _check_references(model, registry, locator)
    return model
