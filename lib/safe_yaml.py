"""YAML for hand-written input files: bounded, alias-free, duplicate-aware.

PyYAML's ``safe_load`` is safe against code execution but not against input
mistakes or hostile text: an alias bomb (``&a``/``*a`` nested a few levels)
expands to millions of items, ``'[' * 500`` or ``x: &a [*a]`` raise
``RecursionError``, control characters raise a bare ``ReaderError`` and a
repeated key silently keeps the last value. :func:`parse_yaml` refuses all of
that with a :class:`YamlRefused` naming the line:

- aliases (``*name``) and merge keys (``<<``) are refused (settings and
  targets never need them), so the document is a tree and its size is
  linear in the text;
- nesting deeper than :data:`MAX_DEPTH` collections is refused;
- any YAML error (control characters, syntax, an impossible date) is refused.

Duplicate mapping keys are not fatal: every one is returned as a
:class:`YamlProblem` so that a caller can report them together with its own
checks. ``lines`` maps every item path (keys as constructed: ``1:`` is the
int 1, ``yes:`` is True) to its 1-based line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "ParsedYaml",
    "YamlPath",
    "YamlProblem",
    "YamlRefused",
    "parse_yaml",
]

#: Deepest nesting of mappings/sequences accepted (settings need 3, targets 6).
MAX_DEPTH = 32

YamlPath = tuple[Any, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(Exception):
    """The text cannot be read as plain YAML; ``line`` is 1-based (None: unknown)."""

    def __init__(self, line: int | None, rule: str) -> None:
        self.line = line
        self.rule = rule
        super().__init__(f"line {line}: {rule}" if line is not None else rule)


@dataclass(frozen=True, slots=True)
class YamlProblem:
    """A non-fatal problem at ``path`` (its key on ``line``)."""

    path: YamlPath
    line: int
    rule: str


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """The document (None if empty), the line of each item path, and the
    duplicate-key problems."""

    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)
    problems: tuple[YamlProblem, ...] = ()


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and bounds the nesting while composing."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise YamlRefused(
                event.start_mark.line + 1,
                "aliases (*name) are not allowed; write the value out in full",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise YamlRefused(
                    event.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line_of(exc: yaml.YAMLError, text: str) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # ReaderError: index into the text
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return None


def _problem_text(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character
        code = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        return f"unacceptable character {code} (control characters are not allowed)"
    problem = getattr(exc, "problem", None)
    return str(problem or exc).strip()


def _walk(
    loader: _Loader,
    node: yaml.Node,
    path: YamlPath,
    lines: dict[YamlPath, int],
    problems: list[YamlProblem],
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                raise YamlRefused(line, "merge keys (<<) are not allowed; write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlRefused(line, "a key must be a plain value, not a list or mapping")
            key = loader.construct_object(key_node)
            if key in seen:
                problems.append(
                    YamlProblem(
                        path + (key,),
                        line,
                        f"duplicate key {key!r} (first at line {seen[key]}); "
                        "each key may appear once",
                    )
                )
                continue
            seen[key] = line
            lines[path + (key,)] = line
            _walk(loader, value_node, path + (key,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, path + (i,), lines, problems)


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document; see the module docstring for what is refused.

    Raises :class:`YamlRefused`; never a PyYAML or Python error.
    """
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return ParsedYaml(None)
        lines: dict[YamlPath, int] = {}
        problems: list[YamlProblem] = []
        _walk(loader, node, (), lines, problems)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise YamlRefused(_line_of(exc, text), f"not valid YAML: {_problem_text(exc)}") from None
    except (ValueError, OverflowError, TypeError) as exc:
        # e.g. an impossible date (2026-13-45) or an unhashable constructed key
        raise YamlRefused(None, f"not valid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return ParsedYaml(data, lines, tuple(problems))
