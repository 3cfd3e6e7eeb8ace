"""The huey side of P2 (bench_runtime.py R1): its application and task, in a module of
their own so that huey's consumer imports them as its docs describe:

    HUEY_DB=PATH huey_consumer huey_tasks.huey -w 4 -k thread

SQLite storage with scn's durability (fsync: `synchronous=FULL`); the task is due a second
after it is enqueued and returns the wall-clock time it ran, which huey keeps in its
result store (a write per task, as scn writes each finished run).
"""

from __future__ import annotations

import os
import time

from huey import SqliteHuey

huey = SqliteHuey("bench", filename=os.environ.get("HUEY_DB", "huey.db"), fsync=True)


@huey.task()
def tick() -> float:
    """A task due one second after its enqueue: the wall-clock time it ran."""
    return time.time()
