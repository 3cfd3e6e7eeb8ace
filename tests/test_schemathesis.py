"""schemathesis against the served OpenAPI document: no 5xx, responses match the schema.

A bounded number of generated requests per operation (`SCHEMATHESIS_EXAMPLES`, default
15) keeps this under half a minute; the server runs for real under uvicorn in a thread,
with a deployed workspace and some events so that lookups can find things."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Ok

from .server_harness import API_KEY, served_in_thread
from .test_server import FILES, paid

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_in_thread(tmp_path_factory.mktemp("schemathesis"), FILES, secret="fuzz") as base:
        with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}) as client:
            assert client.post("/api/events", json=[paid("ann", "o1"), paid("bob", "o2")]).status_code == 202
        yield base


def operations(base: str) -> list[Any]:
    document = httpx.get(f"{base}/schema/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    found = []
    for result in schema.get_all_operations():
        # An operation schemathesis cannot read is a broken schema: fail on it, never skip it.
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


def fuzz(operation: Any, base_url: str, failures: list[str]) -> None:
    """Run generated requests against one operation; failures are collected, not raised."""

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(), keyed=st.booleans())
    def check(case: Any, keyed: bool) -> None:
        headers = {"X-API-Key": API_KEY} if keyed else {}
        response = case.call(base_url=base_url, headers=headers, timeout=10)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        check()
    except Exception as error:  # hypothesis re-raises the smallest failing example
        failures.append(f"{operation.label}: {type(error).__name__}: {str(error)[:600]}")


def test_generated_requests_never_get_a_server_error_and_match_the_schema(base_url: str) -> None:
    found = operations(base_url)
    assert len(found) >= 25, [op.label for op in found]
    failures: list[str] = []
    for operation in found:
        fuzz(operation, base_url, failures)
    assert not failures, "\n".join(failures)
