"""The progress bar of long commands (`scn simulate`, `scn import`): rich, on standard error."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(
    what: str, total: int, shown: bool, *, unit: str = "events", done: int = 0
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on standard error, told (done, total) by the work (``done`` of
    ``total`` already at the start: work that goes on); None when not shown."""
    if not shown:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(f"{what} {unit}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(what, total=total, completed=done)
        yield lambda now, _total: bar.update(task, completed=now)
