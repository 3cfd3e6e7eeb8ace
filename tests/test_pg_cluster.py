"""The session's throwaway PostgreSQL cluster (tests/pg_cluster.py): it runs as an
unprivileged user, and each test's database is its own."""

from __future__ import annotations

import asyncpg

from .pg_cluster import Cluster


async def test_the_cluster_runs_as_an_unprivileged_user_and_answers(pg_cluster: Cluster) -> None:
    connection = await asyncpg.connect(pg_cluster.database())
    try:
        assert await connection.fetchval("SELECT 1") == 1
        assert await connection.fetchval("SELECT current_setting('server_encoding')") == "UTF8"
        owner = await connection.fetchval("SELECT pg_read_file('postmaster.pid', 0, 0) IS NOT NULL")
        assert owner is True  # the superuser reads the data directory: the server runs
    finally:
        await connection.close()
    assert (pg_cluster.data / "postmaster.pid").stat().st_uid != 0


async def test_each_database_is_separate(pg_cluster: Cluster) -> None:
    first, second = pg_cluster.database(), pg_cluster.database()
    assert first != second
    one = await asyncpg.connect(first)
    other = await asyncpg.connect(second)
    try:
        await one.execute("CREATE TABLE t (x text)")
        assert await other.fetchval("SELECT to_regclass('t') IS NULL") is True
    finally:
        await one.close()
        await other.close()
