"""Read a targets file (YAML or CSV) into a validated :class:`TargetsFile`.

Both formats are first turned into the same raw mapping, while a *locator*
remembers where each item came from (YAML: item path + line; CSV: 1-based data
row + column). The pydantic models then judge every item, and
:func:`_check_references` judges what needs the registry or several items.
Every problem found becomes part of ONE :class:`lib.errors.InputError` (one
line per problem) naming the file, the row/location, the field and the rule;
nothing partial is returned. YAML is read by :func:`lib.safe_yaml.parse_yaml`:
no aliases, bounded nesting, control characters refused with their line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from lib.errors import InputError
from lib.safe_yaml import YamlRefused, parse_yaml
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
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            text = part if isinstance(part, str) else repr(part)
            out += f".{text}" if out else text
    return out or "<root>"


def _key_field(path: _Path) -> str:
    """The field a mapping key stands for: sleeve names and symbols."""
    if len(path) == 2 and path[0] == "sleeves":
        return "sleeve"
    if len(path) >= 2 and path[-2] in ("positions", "weights"):
        return "symbol"
    return "(key)"


class _YamlLocator:
    """Item paths (``sleeves.trend.trades[2]``, 0-based indices) plus the line."""

    def __init__(self, file: str, lines: dict[_Path, int]) -> None:
        self.file = file
        self.lines = lines

    def describe(self, path: _Path) -> str:
        line = _longest_prefix(self.lines, path)
        return _fmt(path) + (f" (line {line})" if line is not None else "")

    def error(self, path: _Path, rule: str, *, key: bool = False) -> InputError:
        if key:
            # A bad key (``1:``, ``yes:``, ``~:``): the key's own line.
            where, field = path[:-1], _key_field(path)
        elif path and isinstance(path[-1], str):
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
            field = "sleeve" if _key_field(path) == "sleeve" else "symbol"
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


def _parse_yaml(file: str, text: str) -> tuple[Any, _Locator, list[InputError]]:
    try:
        parsed = parse_yaml(text)
    except YamlRefused as exc:
        where = f"line {exc.line}" if exc.line is not None else "file"
        raise InputError(file, None, _WHOLE_FILE, exc.rule, location=where) from None
    if parsed.data is None:
        raise InputError(file, None, _WHOLE_FILE, "file is empty (no YAML content)")
    locator = _YamlLocator(file, parsed.lines)
    problems = [
        _YamlLocator(file, parsed.lines | {pr.path: pr.line}).error(pr.path, pr.rule)
        for pr in parsed.problems
    ]
    return parsed.data, locator, problems


# --------------------------------------------------------------------------- CSV


def _parse_csv(file: str, text: str) -> tuple[Any, _Locator, list[InputError]]:
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
            f"columns must be exactly one of: {allowed}; got {_short(','.join(header))}",
            location="header (line 1)",
        )
    col = {name: header.index(name) for name in header}
    rows: dict[_Path, int] = {}
    sleeves: dict[str, Any] = {}
    gross: dict[str, float] = {}
    problems: list[InputError] = []
    n_data = 0
    for row_no, cells in enumerate(table[1:], start=1):
        if not any(c.strip() for c in cells):
            continue  # blank line: skipped, but it still counts as a row number
        n_data += 1
        if len(cells) != len(header):
            problems.append(
                InputError(
                    file, row_no, "(row)", f"expected {len(header)} columns, got {len(cells)}"
                )
            )
            continue
        sleeve = cells[col["sleeve"]].strip()
        symbol = cells[col["symbol"]].strip()
        if not sleeve:
            problems.append(
                InputError(file, row_no, "sleeve", "is empty; every row names its sleeve")
            )
            continue
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
            problems.append(
                InputError(
                    file,
                    row_no,
                    "symbol",
                    f"duplicate row: sleeve {_short(sleeve)} symbol {_short(symbol)} "
                    f"already on row {rows[sym_path]}",
                )
            )
            continue
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
    return {"sleeves": sleeves}, _CsvLocator(file, rows, kind), problems


# --------------------------------------------------------------------------- rules


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message never dumps a file)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'"


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "null (~ or empty)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__} ({_short(value)})"


def _resolve(raw: Any, loc: tuple[Any, ...]) -> _Path:
    """pydantic's error loc with the raw keys back (it turns ``None``/``True``
    keys into strings/ints), so the locator finds their lines."""
    out: list[Any] = []
    node = raw
    for part in loc:
        if isinstance(node, dict):
            exact = [k for k in node if type(k) is type(part) and k == part]
            if exact:
                part = exact[0]
            else:
                part = next((k for k in node if k == part or str(k) == str(part)), part)
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        else:
            out.append(part)
            node = None
    return tuple(out)


def _validate(file: str, raw: Any, locator: _Locator) -> tuple[TargetsFile | None, list[InputError]]:
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
        return TargetsFile.model_validate({**raw, "source": file}), []
    except ValidationError as exc:
        problems: list[InputError] = []
        errors = exc.errors()
        locs = [tuple(e["loc"]) for e in errors]
        for err in errors:
            loc = tuple(err["loc"])
            if any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs):
                continue  # a container's echo of a problem reported inside it
            key = bool(loc) and loc[-1] == "[key]"
            path = _resolve(raw, loc[:-1] if key else loc)
            rule = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                rule = "unknown key (see config/targets.example.yaml for the allowed keys)"
            elif key and not isinstance(err.get("input"), str):
                value = err.get("input")
                rule = (
                    f"must be text, but YAML reads this key as {_yaml_kind(value)}; "
                    "put the name in quotes"
                )
            elif err["type"] not in ("missing", "value_error") and "input" in err:
                rule = f"{rule} (got {_short(err['input'])})"
            problems.append(locator.error(path, rule, key=key))
        return None, problems


def _check_references(
    model: TargetsFile, registry: Mapping[str, Any], where: _Locator
) -> list[InputError]:
    """Registry symbols, duplicate trades, and pair legs that match a request
    (every problem, in file order)."""
    problems: list[InputError] = []
    report = problems.append

    unknown = _unknown

    for name, request in model.iter_requests():
        base: _Path = ("sleeves", name)
        if request.trades is not None:
            first_at: dict[str, _Path] = {}
            for i, trade in enumerate(request.trades):
                path = base + ("trades", i, "symbol")
                if trade.symbol not in registry:
                    report(where.error(path, unknown(trade.symbol)))
                    continue
                if trade.symbol in first_at:
                    report(where.error(
                        path,
                        f"duplicate row: sleeve {name!r} already trades {trade.symbol!r} "
                        f"at {where.describe(first_at[trade.symbol])}",
                    ))
                    continue
                first_at[trade.symbol] = base + ("trades", i)
        elif request.targets is not None:
            key = "positions" if request.targets.positions is not None else "weights"
            for symbol in request.targets.symbols():
                if symbol not in registry:
                    report(where.error(base + ("targets", key, symbol), unknown(symbol), key=True))
    groups: dict[str, int] = {}
    leg_group: dict[tuple[str, str], str] = {}
    for i, pair in enumerate(model.pairs):
        base = ("pairs", i)
        if pair.group in groups:
            report(where.error(
                base + ("group",),
                f"duplicate pair group {pair.group!r} (also pairs[{groups[pair.group]}])",
            ))
            continue
        groups[pair.group] = i
        if pair.hedge_symbol is not None and pair.hedge_symbol not in registry:
            report(where.error(base + ("hedge_symbol",), unknown(pair.hedge_symbol)))
        for j, leg in enumerate(pair.legs):
            leg_path = base + ("legs", j)
            if leg.sleeve not in model.sleeves:
                report(where.error(
                    leg_path + ("sleeve",),
                    f"unknown sleeve {leg.sleeve!r}; sleeves in this file: {sorted(model.sleeves)}",
                ))
                continue
            if leg.symbol not in registry:
                report(where.error(leg_path + ("symbol",), unknown(leg.symbol)))
                continue
            if leg.symbol not in model.sleeves[leg.sleeve].symbols():
                report(where.error(
                    leg_path + ("symbol",),
                    f"sleeve {leg.sleeve!r} has no trade or target for {leg.symbol!r}; "
                    "a pair leg must refer to one",
                ))
                continue
            if (leg.sleeve, leg.symbol) in leg_group:
                report(where.error(
                    leg_path + ("symbol",),
                    f"leg {leg.sleeve}/{leg.symbol} is already in pair "
                    f"{leg_group[(leg.sleeve, leg.symbol)]!r}; a leg belongs to one pair",
                ))
                continue
            leg_group[(leg.sleeve, leg.symbol)] = pair.group
    return problems


def _unknown_raw_symbols(raw: Any, registry: Mapping[str, Any], where: _Locator) -> list[InputError]:
    """Unknown symbols of a file the models refused, so that they are listed
    with the other problems (the full cross-item checks need a valid model)."""
    problems: list[InputError] = []
    sleeves = raw.get("sleeves") if isinstance(raw, dict) else None
    if not isinstance(sleeves, dict):
        return problems
    for name, request in sleeves.items():
        if not isinstance(request, dict):
            continue
        base: _Path = ("sleeves", name)
        trades = request.get("trades")
        for i, trade in enumerate(trades if isinstance(trades, list) else []):
            symbol = trade.get("symbol") if isinstance(trade, dict) else None
            if isinstance(symbol, str) and symbol and symbol not in registry:
                problems.append(
                    where.error(base + ("trades", i, "symbol"), _unknown(symbol))
                )
        targets = request.get("targets")
        for key in ("positions", "weights"):
            values = targets.get(key) if isinstance(targets, dict) else None
            for symbol in values if isinstance(values, dict) else {}:
                if isinstance(symbol, str) and symbol and symbol not in registry:
                    problems.append(
                        where.error(base + ("targets", key, symbol), _unknown(symbol), key=True)
                    )
    return problems


def _unknown(symbol: str) -> str:
    return f"unknown symbol {_short(symbol)} (not in the instrument registry)"


def load_targets(path: str | Path, registry: Mapping[str, Any]) -> TargetsFile:
    """Load and validate a targets file (.yaml/.yml or .csv).

    ``registry`` is the :class:`lib.instruments.InstrumentRegistry` (any
    mapping keyed by symbol works). Raises :class:`lib.errors.InputError`
    listing every problem (file, row/location, field and rule), one line each.
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
        raw, locator, problems = _parse_csv(file, text)
    else:
        raw, locator, problems = _parse_yaml(file, text)
    model, invalid = _validate(file, raw, locator)
    problems.extend(invalid)
    if model is not None:
        problems.extend(_check_references(model, registry, locator))
    else:
        problems.extend(_unknown_raw_symbols(raw, registry, locator))
    if problems:
        raise InputError.combine(problems)
    assert model is not None  # no problems means the model validated
    return model
