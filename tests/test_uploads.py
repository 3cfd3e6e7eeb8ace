"""Uploads never block the server: checked in a worker thread under a time budget, within
documented size limits, with a clear problem at each limit and nothing deployed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from hypothesis import given
from hypothesis import strategies as st

from scn.interpreter.span import span_of_offsets
from scn.server.core import MAX_FILE, MAX_FILES

from .server_harness import Served, serving
from .test_server import FILES


async def upload(s: Served, files: dict[str, str]) -> httpx.Response:
    return await s.client.post("/api/scenarios", json={"files": files}, timeout=120)


async def test_a_file_over_the_limit_is_refused_naming_it_and_nothing_changes(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        before = (await s.client.get("/api/scenarios")).json()
        exactly = "#" * (MAX_FILE - 1) + "\n"
        assert (await upload(s, {"notes.scn": exactly})).status_code == 201, "exactly the limit is taken"
        answer = await upload(s, {"big.scn": exactly + "#"})
        assert answer.status_code == 413
        problem = answer.json()
        assert problem["type"].endswith("/too-large")
        assert f"big.scn has {MAX_FILE + 1} characters; a file may have at most {MAX_FILE}" in problem["detail"]
        assert "nothing was deployed" in problem["detail"]
        assert [x["name"] for x in (await s.client.get("/api/scenarios")).json()["items"]] == [
            x["name"] for x in before["items"]
        ]


async def test_too_many_files_are_refused(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        many = {f"t{i}.txt": "x" for i in range(MAX_FILES)}
        answer = await upload(s, many)
        assert answer.status_code == 413 and f"at most {MAX_FILES}" in answer.json()["detail"]


async def test_a_check_over_its_time_budget_deploys_nothing(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        s.core.check_seconds = 0.0
        answer = await upload(s, {"more.scn": "list more\n"})
        assert answer.status_code == 422 and answer.json()["type"].endswith("/check-took-too-long")
        s.core.check_seconds = 30.0
        assert (await upload(s, {"more.scn": "list more\n"})).status_code == 201


async def test_the_server_answers_while_a_big_upload_is_checked(tmp_path: Path) -> None:
    """A 1.6 MB upload made /healthz wait 18.7 s: checking ran on the event loop."""
    # Declarations up to the size limit: seconds of parsing and checking.
    lines, size = [], 0
    for i in range(100_000):
        line = f'list l{i} "List {i}"'
        if size + len(line) + 1 >= MAX_FILE:
            break
        lines.append(line)
        size += len(line) + 1
    slow = "\n".join(lines)
    async with serving(tmp_path, FILES) as s:
        loop = asyncio.get_running_loop()
        started = loop.time()
        uploading = asyncio.create_task(upload(s, {"slow.scn": slow}))
        waits: list[float] = []
        while not uploading.done():
            sent = loop.time()
            health = await s.public.get("/healthz")
            accepted = await s.client.post("/api/events", json={"type": "contact.updated", "contact": {"id": "x"}})
            waits.append(loop.time() - sent)
            assert health.status_code == 200 and accepted.status_code == 202
            await asyncio.sleep(0.05)
        took = loop.time() - started
        answer = uploading.result()
    assert answer.status_code == 201, answer.text
    assert len(waits) >= 5, f"the upload took {took:.1f} s"
    # Not a speed target: a check on the event loop would hold these for the whole upload.
    assert max(waits) < took / 2, (max(waits), took)


@given(st.text(alphabet="ab\n", max_size=60), st.data())
def test_spans_from_the_line_table_are_the_spans_counted_from_the_start(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    span = span_of_offsets("f", text, start, end)
    line = text.count("\n", 0, start) + 1
    end_line = text.count("\n", 0, end) + 1
    assert (span.line, span.column) == (line, start - (text.rfind("\n", 0, start) + 1) + 1)
    assert (span.end_line, span.end_column) == (end_line, end - (text.rfind("\n", 0, end) + 1) + 1)


def test_a_file_of_comments_is_checked_in_time_linear_in_its_length() -> None:
    """16,000 comment lines took 11 s (spans counted newlines from the start each time)."""
    from scn.server.core import check_files

    text = "\n".join(f"# comment {i}" for i in range(100_000)) + "\nlist x\n"
    started = time.monotonic()
    assert check_files({"notes.scn": text}).ok
    assert time.monotonic() - started < 20  # quadratic: many minutes; linear: a second or less
