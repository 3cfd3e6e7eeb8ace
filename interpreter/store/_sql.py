"""What the SQLite store's mixins (outbox, control-plane queries) use of the store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .sqlite import Connection

T = TypeVar("T")


class SqlAccess:
    """Declared here for the type checker; `SqliteStore` implements them."""

    if TYPE_CHECKING:

        @property
        def db(self) -> Connection: ...

        async def _write(self, work: Callable[[], Awaitable[T]]) -> T: ...

        async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]: ...

        async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any: ...
