"""What the benchmarks print: rows of timed runs (the fastest counts), the units they are shown
in, the result tables (aligned text or Markdown) and the targets with their verdict.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from common.processes import TreeMemory

KIB = 1024
MIB = 1024 * KIB


class Timed(Protocol):
    """What a measured run must tell: its wall time."""

    @property
    def seconds(self) -> float: ...


class Sampled(Timed, Protocol):
    """A measured run that also tells its process tree's peak memory."""

    @property
    def memory(self) -> TreeMemory: ...


R = TypeVar("R", bound=Timed)
S = TypeVar("S", bound=Sampled)


@dataclass
class Row(Generic[R]):
    """One measured command: all its runs, of which the fastest counts."""

    label: str
    runs: list[R] = field(default_factory=list)

    @property
    def best(self) -> R:
        return min(self.runs, key=lambda r: r.seconds)

    @property
    def seconds(self) -> float:
        return self.best.seconds

    def times(self, sep: str = " ", fmt: str = ".3f", scale: float = 1.0) -> str:
        """Every run's time, in the order they ran."""
        return sep.join(format(r.seconds * scale, fmt) for r in self.runs)

    @property
    def peak_rss_kib(self: Row[S]) -> int:
        """The largest summed RSS of the command's process tree over all the runs."""
        return max(r.memory.rss_kib for r in self.runs)

    @property
    def peak_pss_kib(self: Row[S]) -> int:
        """The same for the summed PSS (0: not read)."""
        return max(r.memory.pss_kib for r in self.runs)


def mib(kib: int) -> str:
    """A memory figure in KiB, as MiB (2^20 bytes)."""
    return f"{kib / 1024:.0f} MiB"


def human(n: float) -> str:
    """A byte count in the largest binary unit that keeps it above 1."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def section(title: str) -> None:
    """A blank line, then ``== title ==``: the start of one table of a report."""
    print()
    print(f"== {title} ==")


def markdown(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table: the form the README quotes."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def aligned(
    rows: Sequence[Sequence[str]], right: Collection[int] = (), sep: str = "  ", rule: str | None = None
) -> str:
    """A text table whose columns are as wide as their widest cell; the columns in ``right`` are
    right-aligned, and ``rule`` (the joint between dashes) draws a line under the first row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        sep.join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    if rule is not None:
        lines.insert(1, rule.join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """A figure judged against its limit, both as printed; ``ok`` None: shown, not judged."""

    label: str
    value: str
    limit: str
    ok: bool | None


@dataclass(frozen=True)
class TargetTable:
    """How one script lays out its targets: the value column's title and the columns' widths."""

    value: str = "measured"
    value_width: int = 9
    limit_width: int = 12
    info: str = "info (not a target)"

    def print(self, targets: Sequence[Target], width: int | None = None) -> None:
        """The targets, one a line, PASS or FAIL; ``width``: the label column's (else the longest)."""
        width = width or max(len(t.label) for t in targets)
        print(f"{'target':<{width}}  {self.value:>{self.value_width}}  {'limit':>{self.limit_width}}  result")
        for t in targets:
            result = self.info if t.ok is None else "PASS" if t.ok else "FAIL"
            print(
                f"{t.label:<{width}}  {t.value:>{self.value_width}}  {t.limit:>{self.limit_width}}  {result}"
            )


def missed(targets: Iterable[Target]) -> list[str]:
    """The labels of the targets that failed."""
    return [t.label for t in targets if t.ok is False]


def print_warnings(problems: Iterable[str]) -> None:
    """Runs that did not do what their name says, one WARNING line each."""
    for p in problems:
        print(f"WARNING: {p}")


def verdict(failed: Sequence[str], check: bool, misbehaved: bool = False, says: str = "") -> int:
    """Print the targets missed (and ``says``, a line on the runs that misbehaved, if they did);
    the exit status: 1 only with ``check`` when a target was missed or a run misbehaved."""
    print(f"targets missed: {', '.join(failed) if failed else 'none'}")
    if misbehaved and says:
        print(says)
    return 1 if check and (failed or misbehaved) else 0
