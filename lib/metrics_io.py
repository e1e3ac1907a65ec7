"""How lib.metrics leaves the process: the export result, the collector
views written or pushed (run labels added, ``_created`` dropped; a merge with
an older textfile), and the textfile folder's pruning."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from lib.errors import ReportingError

__all__ = ["ExportResult", "Labelled", "Merged", "failed", "prune_textfiles", "read_families"]

log = logging.getLogger("lib.metrics")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Outcome of a textfile write or a Pushgateway push. ``target`` is the
    path or gateway address; ``detail`` the error text when ``ok`` is False."""

    ok: bool
    target: str
    detail: str = ""
    grouping_key: Mapping[str, str] = field(default_factory=dict)

    def raise_for_error(self) -> None:
        """Raise :class:`ReportingError` if the export failed."""
        if not self.ok:
            raise ReportingError(self.target, self.detail)


class Labelled:
    """A collector view of a registry with ``labels`` added to every sample
    and ``_created`` samples left out (what is written/pushed)."""

    def __init__(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> None:
        self._registry = registry
        self._labels = dict(labels)

    def collect(self) -> Iterator[Metric]:
        for fam in self._registry.collect():
            out = Metric(fam.name, fam.documentation, fam.type, fam.unit)
            out.samples = [
                Sample(s.name, {**s.labels, **self._labels}, s.value, s.timestamp, s.exemplar)
                for s in fam.samples
                if not s.name.endswith("_created")
            ]
            yield out


class Merged:
    """A collector: ``first``'s families, then those of ``rest`` whose name
    ``first`` does not have (a textfile merge, as a Pushgateway POST does)."""

    def __init__(self, first: Labelled, rest: list[Metric]) -> None:
        self._first = first
        self._rest = rest

    def collect(self) -> Iterator[Metric]:
        names = set()
        for fam in self._first.collect():
            names.add(fam.name)
            yield fam
        for fam in self._rest:
            if fam.name not in names:
                yield fam


def prune_textfiles(folder: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` most recently written ``*.prom`` files of
    ``folder`` (by modification time, then name); returns what was deleted.
    Bounds the series a textfile collector re-exports forever."""
    if keep < 0:
        raise ValueError(f"keep must be >= 0, got {keep}")
    files = sorted(Path(folder).glob("*.prom"), key=lambda p: (p.stat().st_mtime, p.name))
    doomed = files[: max(0, len(files) - keep)]
    for p in doomed:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    return doomed


def failed(target: str, detail: str, key: Mapping[str, str]) -> ExportResult:
    log.warning("metrics export to %s failed: %s", target, detail)
    return ExportResult(ok=False, target=target, detail=detail, grouping_key=dict(key))


def read_families(path: Path) -> list[Metric]:
    """The metric families of an existing textfile ([] if missing or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        return list(text_string_to_metric_families(text))
    except ValueError as exc:
        log.warning("metrics textfile %s unreadable, replaced: %s", path, exc)
        return []


