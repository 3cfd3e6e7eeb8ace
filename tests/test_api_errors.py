"""Every error the API answers with is documented, and every problem type resolves to a page.

The OpenAPI document is read as a client reads it: each operation's error answers are
`application/problem+json` with the problem-details schema, the routes behind the key
declare the key's schemes, and each `type` an answer can carry is a page on the server.
The defects schemathesis found (tests/test_schemathesis.py) each have a test here.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from scn.interpreter.checker import check_workspace
from scn.interpreter.runtime.events import EventError, read_event
from scn.interpreter.workspace import load_workspace
from scn.server.deps import MAX_ID
from scn.server.problem_types import PROBLEM_TYPES, Slug

from .server_harness import Served, serving
from .test_server import FILES, is_problem, paid

BOUNDARY = "scnboundary"


def multipart(name: str, value: bytes, headers: str = "") -> bytes:
    """A multipart body of one form field (not a file) holding ``value`` as it is."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n{headers}\r\n'.encode()
        + value
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.mark.parametrize(
    "value, headers",
    [(b"\x89PNG", ""), (b"\xd3", ""), (b"list a", "Content-Type: text/plain; charset=no-such-charset\r\n")],
    ids=["not-utf8", "cut-utf8", "unknown-charset"],
)
async def test_a_form_field_that_is_not_text_is_a_bad_request(tmp_path: Path, value: bytes, headers: str) -> None:
    """A multipart field (not a file) that is not UTF-8, or names a charset Python does not
    know, was a 500 (Litestar's form parser decodes it with no guard)."""
    async with serving(tmp_path, FILES) as s:
        kind = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        body = multipart("shop.scn", value, headers)
        problem = is_problem(await s.client.post("/api/scenarios", content=body, headers=kind), 400)
        assert "field of the form" in problem["detail"] and "UTF-8" in problem["detail"], problem
        assert (await s.client.get("/api/scenarios/thanks")).json()["version"] == 1, "nothing was deployed"
        # The preferences page's form is read the same way.
        link = s.core.settings.link("preferences", "ann", "email")
        problem = is_problem(await s.public.post(link, content=multipart("email", value, headers), headers=kind), 400)
        assert "field of the form" in problem["detail"], problem


def error_answers(document: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, status, answer)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, answer in operation["responses"].items()
        if status.startswith("4")
    ]


async def test_every_error_answer_is_documented_as_problem_details(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        document: dict[str, Any] = (await s.public.get("/schema/openapi.json")).json()
    answers = error_answers(document)
    assert len(answers) > 100
    for method, path, status, answer in answers:
        assert list(answer["content"]) == ["application/problem+json"], (method, path, status)
        assert answer["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/ProblemDetails"
        }, (method, path, status)
        assert "/problems/" in answer["description"], (method, path, status)
    schema = document["components"]["schemas"]["ProblemDetails"]
    assert set(schema["required"]) == {"type", "title", "status", "detail", "instance"}
    assert {"errors", "diagnostics", "index", "key", "reason"} <= set(schema["properties"])


async def test_the_key_is_a_declared_security_scheme_on_every_route_behind_it(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        document: dict[str, Any] = (await s.public.get("/schema/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        "type": "apiKey", "name": "X-API-Key", "in": "header", "description": schemes["apiKey"]["description"],
    }  # fmt: skip
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert (schemes["basic"]["type"], schemes["basic"]["scheme"]) == ("http", "basic")
    any_scheme: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}, {"basic": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            security = operation.get("security")
            if path.startswith(("/api/", "/dev/")):
                assert security == any_scheme, (method, path)
                assert "401" in operation["responses"], (method, path)
            elif path == "/metrics":
                assert security == [{}, *any_scheme], "open unless the server protects it"
            else:
                assert security is None, (method, path)
                assert "401" not in operation["responses"], (method, path)


async def test_every_problem_type_is_a_page_that_explains_it(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        index = await s.public.get("/problems")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert set(get_args(Slug)) == set(PROBLEM_TYPES), "every type has its text, and only those"
        for slug, kind in PROBLEM_TYPES.items():
            assert f'href="/problems/{slug}"' in index.text
            page = await s.public.get(f"/problems/{slug}")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), slug
            assert "What happened" in page.text and "What to do" in page.text, slug
            assert html.escape(kind.name) in page.text and f"/problems/{slug}" in page.text, slug
        missing = is_problem(await s.public.get("/problems/no-such-problem"), 404)
        assert missing["type"] == "/problems/not-found"


async def test_the_type_of_every_answer_resolves_to_its_page(tmp_path: Path) -> None:
    """Answers of each kind, from the app's handlers and from Litestar's own refusals: the
    `type` of each, resolved against the request as RFC 9457 says, is a page."""
    async with serving(tmp_path, FILES) as s:
        answers = [
            await s.public.get("/api/runs"),  # 401
            await s.client.get("/api/runs/7"),  # 404
            await s.client.get("/api/runs?limit=0"),  # 400 (Litestar's validation)
            await s.client.get("/nowhere"),  # 404 (no route)
            await s.client.delete("/api/runs"),  # 405
            await s.client.post("/api/events", content=b"{}", headers={"Content-Type": "text/plain"}),  # 415
            await s.client.post("/api/events", json={"type": "nope", "contact": {"id": "a"}}),  # 422
            await s.client.post("/api/scenarios", json={"files": {"a.scn": "scenario"}}),  # 422, diagnostics
        ]
        assert [a.status_code for a in answers] == [401, 404, 400, 404, 405, 415, 422, 422]
        for answer in answers:
            body = answer.json()
            assert answer.headers["content-type"].startswith("application/problem+json"), body
            page = await s.public.get(str(answer.url.join(body["type"])))
            assert page.status_code == 200 and "What to do" in page.text, body["type"]


async def test_an_invalid_field_in_a_batch_is_named_with_its_place(tmp_path: Path) -> None:
    """Litestar locates a validation error by `$.path` in msgspec's message; in a batch the
    path is `$[1]...`, and the answer named only `data`."""
    async with serving(tmp_path, FILES) as s:
        bad = {**paid("bob", "o2"), "contact": {"id": "bob", "tags": ["vip", ""]}}
        problem = is_problem(await s.client.post("/api/events", json=[paid("ann", "o1"), bad]), 400)
        assert problem["detail"].endswith("(at [1].contact.tags[1])"), problem
        assert problem["errors"][0]["key"] == "[1].contact.tags[1]", problem
        problem = is_problem(await s.client.post("/api/events", json=bad), 400)
        assert problem["detail"].endswith("(at contact.tags[1])"), problem
        problem = is_problem(await s.client.post("/api/events", json=[]), 400)
        assert "at least 1" in problem["detail"] or ">= 1" in problem["detail"], problem
        assert await s.count("SELECT count(*) FROM events") == 0


async def wait_for(s: Served, job_id: int) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = (await s.client.get(f"/api/contacts/import/{job_id}")).json()
        if job["status"] == "done":
            return job
        await asyncio.sleep(0.02)
    raise AssertionError("the import did not finish")


async def test_csv_with_a_bare_carriage_return_is_read_and_an_unreadable_one_refused(tmp_path: Path) -> None:
    """A CSV line ending in a lone CR made the csv module raise, a 500 (contact imports) or
    an internal error (a coupon pool, in `scn check` too). A CR ends a line as in any CSV
    reader; a CSV the reader cannot take (a field over its limit) is a 422 naming why."""
    workspace = {**FILES, "pool.scn": 'coupon POOLED discount 10% from pool "codes.csv"\n', "codes.csv": "code\nP-1\n"}
    async with serving(tmp_path, workspace) as s:
        csv_kind = {"Content-Type": "text/csv"}
        answer = await s.client.post(
            "/api/contacts/import", content=b"id,email\rann,ann@example.com\rbob,\r", headers=csv_kind
        )
        assert answer.status_code == 202, answer.text
        job = await wait_for(s, answer.json()["id"])
        assert (job["total"], job["accepted"], job["errors"]) == (2, 2, []), job
        huge = b"id\n" + b"x" * 200_000 + b"\n"
        problem = is_problem(await s.client.post("/api/contacts/import", content=huge, headers=csv_kind), 422)
        assert "not readable CSV" in problem["detail"], problem

        pool = await s.client.post("/api/coupons/POOLED/pool", content=b"code\rP-2\rP-3\r", headers=csv_kind)
        assert pool.status_code == 201 and pool.json()["imported"] == 2, pool.text
        problem = is_problem(await s.client.post("/api/coupons/POOLED/pool", content=huge, headers=csv_kind), 422)
        assert "not readable CSV" in problem["detail"], problem


def test_a_pool_file_that_is_not_readable_csv_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "shop.scn").write_text('coupon POOLED discount 10% from pool "codes.csv"\n', encoding="utf-8")
    (tmp_path / "codes.csv").write_text("code\n" + "x" * 200_000 + "\n", encoding="utf-8")
    result = check_workspace(load_workspace([str(tmp_path)]))
    (diagnostic,) = result.diagnostics
    assert diagnostic.code.code == "SCN210" and "codes.csv" in diagnostic.message and "CSV" in diagnostic.message


@pytest.mark.parametrize("total", [" 120.50", "120.50 ", "+120.50", "1_20.50", "١٢٠", "１２０", "1.2e2", "120.", ".5"])
async def test_an_amount_is_read_as_written_not_as_python_reads_a_decimal(tmp_path: Path, total: str) -> None:
    """msgspec reads a decimal string as Python's Decimal() does: spaces, `+`, `_`, digits of
    any script and exponents pass, and an order total of "1_20.50" was accepted as 120.50.
    The API's own rule (docs/api.md, and the OpenAPI pattern) is digits with an optional point."""
    async with serving(tmp_path, FILES) as s:
        order = {"id": "o1", "total": total, "currency": "UAH"}
        for path, body in [
            ("/api/events", {**paid("ann", "o1"), "order": order}),
            ("/api/orders", {"contact": {"id": "ann"}, "order": {**order, "status": "paid"}}),
            ("/api/events", {**paid("ann", "o1"), "order": {"id": "o1", "items": [{"price": "1", "quantity": total}]}}),
        ]:
            problem = is_problem(await s.client.post(path, json=body), 422)
            assert problem["errors"][0]["field"].startswith("order."), problem
        products = [{"id": "p1", "price": total, "currency": "UAH"}]
        assert is_problem(await s.client.post("/api/products", json=products), 422)["errors"][0]["field"] == "[0].price"
        assert await s.count("SELECT count(*) FROM events") == 0


@pytest.mark.parametrize(("field", "value"), [("score", "٣"), ("took", "٣٠m"), ("day", "٢٠٢٥-٠٣-٠١")])
async def test_event_fields_take_ascii_digits_only(tmp_path: Path, field: str, value: str) -> None:
    """`\\d` in the readers' patterns took digits of any script: `٣` passed for 3."""
    workspace = {**FILES, "quiz.scn": "event quiz.passed(score: number, took: duration, day: date)\n"}
    async with serving(tmp_path, workspace) as s:
        data = {"score": "3", "took": "30m", "day": "2025-03-01", field: value}
        event = {"type": "quiz.passed", "contact": {"id": "ann"}, "data": data}
        problem = is_problem(await s.client.post("/api/events", json=event), 422)
        assert [e["field"] for e in problem["errors"]] == [f"data.{field}"], problem
        fine = {**event, "data": {"score": "3", "took": "30m", "day": "2025-03-01"}}
        assert (await s.client.post("/api/events", json=fine)).status_code == 202


async def test_the_document_states_what_the_api_accepts(tmp_path: Path) -> None:
    """What schemathesis found the document leaving out, so that a request it allows was refused."""
    async with serving(tmp_path, FILES) as s:
        document: dict[str, Any] = (await s.public.get("/schema/openapi.json")).json()
        # Ids: Litestar writes bounds as floats, and 2**63 - 1 came out as 2**63.
        (run_id,) = document["paths"]["/api/runs/{run_id}"]["get"]["parameters"]
        largest = run_id["schema"]["maximum"]
        assert largest == MAX_ID and float(int(largest)) == largest
        is_problem(await s.client.get(f"/api/runs/{MAX_ID}"), 404)
        is_problem(await s.client.get(f"/api/runs/{MAX_ID + 1}"), 400)
    schemas = document["components"]["schemas"]
    # Unknown fields are refused, and the document says so.
    assert all(schemas[n]["additionalProperties"] is False for n in ("EventInput", "ContactIn", "OrderIn", "CodeQuery"))
    # Constraints inside lists and mappings.
    tags = schemas["ContactIn"]["properties"]["tags"]["oneOf"][0]
    assert tags["items"]["minLength"] == 1 and tags["maxItems"] == 100
    data = schemas["EventInput"]["properties"]["data"]
    assert data["propertyNames"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*(?![\\s\\S])" and data["maxProperties"] == 100
    # Decimals: a JSON number or a string of digits.
    total = schemas["OrderIn"]["properties"]["total"]["oneOf"][0]
    assert total["type"] == ["string", "number"] and total["pattern"] == "^-?[0-9]{1,15}(?:\\.[0-9]{1,10})?(?![\\s\\S])"
    events = document["paths"]["/api/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert events["oneOf"][1]["minItems"] == 1
    # The bodies handlers read themselves.
    upload = document["paths"]["/api/scenarios"]["post"]
    assert set(upload["requestBody"]["content"]) == {"application/json", "text/plain", "multipart/form-data"}
    assert [p["name"] for p in upload["parameters"]] == ["path", "draft"]
    for path in ("/api/contacts/import", "/api/coupons/{name}/pool"):
        assert set(document["paths"][path]["post"]["requestBody"]["content"]) == {"text/csv"}, path


async def test_a_request_that_can_be_read_and_names_what_is_not_there_is_422(tmp_path: Path) -> None:
    """Well-formed requests whose content does not fit what they name: 422 (400 is for requests
    that cannot be read), so that a client, and the document, can tell the two apart."""
    workspace = {**FILES, "pool.scn": 'coupon POOLED discount 10% from pool "codes.csv"\n', "codes.csv": "code\nP-1\n"}
    async with serving(tmp_path, workspace) as s:
        is_problem(await s.client.get("/api/scenarios/thanks/steps", params={"after": "no-such-step"}), 422)
        dates = {"since": "2025-03-02", "until": "2025-03-01"}
        is_problem(await s.client.get("/api/reports/thanks", params=dates), 422)
        is_problem(await s.client.get("/api/reports/thanks", params={"since": "March"}), 400)
        lower = {"since": "2025-03-01t10:00:00z", "until": "2025-03-02T10:00:00Z"}  # RFC 3339 allows both cases
        assert (await s.client.get("/api/reports/thanks", params=lower)).status_code == 200
        query = {"code": "X", "contact": "ann", "total": "10.00", "currency": "XYZ"}
        is_problem(await s.client.post("/api/coupons/check", json=query), 422)
        is_problem(await s.client.post("/api/coupons/check", json={**query, "currency": "xyz"}), 400)
        csv_kind = {"Content-Type": "text/csv"}
        is_problem(await s.client.post("/api/coupons/POOLED/pool", content=b"code\n", headers=csv_kind), 422)
        is_problem(await s.client.post("/api/contacts/import", content=b"email\nx@y.z\n", headers=csv_kind), 422)


async def test_a_query_parameter_given_twice_is_refused(tmp_path: Path) -> None:
    """`?limit=1&limit=2` took one of the two, silently (the first for some parameters, the
    last for others): a parameter that takes one value is refused when given more."""
    async with serving(tmp_path, FILES) as s:
        for path, query in [
            ("/api/runs", "limit=1&limit=2"),
            ("/api/runs", "scenario=thanks&scenario=other"),
            ("/api/reports/thanks", "since=2025-01-01&since=2025-02-01"),
            ("/api/scenarios", "path=a.scn&path=b.scn"),
        ]:
            method = "POST" if path == "/api/scenarios" else "GET"
            body = b'list a "A"\n' if method == "POST" else None
            answer = await s.client.request(
                method, f"{path}?{query}", content=body, headers={"Content-Type": "text/plain"}
            )
            problem = is_problem(answer, 400)
            name = query.partition("=")[0]
            assert problem["detail"] == f"{name}: give it once, not 2 times", problem
        assert (await s.client.get("/api/runs?limit=1&scenario=thanks")).status_code == 200
        assert (await s.client.get("/api/scenarios", params={"limit": "1"})).status_code == 200
        assert (await s.client.get("/api/scenarios/thanks")).json()["version"] == 1


def patterns_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for value in node.values() for p in patterns_in(value)]
    if isinstance(node, list):
        return [p for value in node for p in patterns_in(value)]
    return []


async def test_the_documents_patterns_mean_the_same_to_every_regex_engine(tmp_path: Path) -> None:
    """A JSON Schema `pattern` is an ECMA-262 regular expression; the API checks the same text
    with Python's `re`. Where the two read it differently, a client is refused what the
    document allows: schemathesis sent an email holding U+0085, which Python's `\\s` takes
    for a space and ECMA-262's does not. Likewise `\\d` and `\\w` (other scripts' digits and
    letters in Python), `$` (a final line break passes in Python) and `\\Z` (no ECMA-262
    escape at all). The end of the text is written `(?![\\s\\S])`, the same to both."""
    async with serving(tmp_path, FILES) as s:
        document = (await s.public.get("/schema/openapi.json")).json()
        found = patterns_in(document)
        assert len(found) > 20
        differing = re.compile(r"\\[sSdDwWZzAbB]|(?<!\\)\$")
        for pattern in found:
            assert not differing.search(pattern.replace(r"(?![\s\S])", "")), pattern
            assert pattern.endswith(r"(?![\s\S])"), pattern
        # What the server checks: as before, and the characters the engines disagreed on.
        for email in ("ann\x85@example.com", "ann@example.com\n", "\ufeffann@example.com"):
            is_problem(await s.client.post("/api/contacts", json={"id": "ann", "email": email}), 400)
        for contact_id in ("\x85ann", "ann\u3000", "\ufeffann", "..", "a/b"):
            is_problem(await s.client.post("/api/contacts", json={"id": contact_id}), 400)
        assert (
            await s.client.post("/api/contacts", json={"id": "Ганна", "email": "ганна@приклад.укр"})
        ).status_code == 202


LAX = [
    ("/api/products", [{"id": "p1", "created_at": 2866847}], "[0].created_at"),
    ("/api/events", {**paid("ann", "o1"), "at": 1700000000}, "at"),
    ("/api/contacts", {"id": "ann", "subscriptions": {"email": "true"}}, "subscriptions"),
    ("/api/orders", {"contact": {"id": "ann"}, "order": {"id": "o1", "paid_at": 1700000000.5}}, "order.paid_at"),
]


@pytest.mark.parametrize(("path", "body", "place"), LAX, ids=[p for p, _, _ in LAX])
async def test_json_bodies_are_read_without_coercions(tmp_path: Path, path: str, body: Any, place: str) -> None:
    """Litestar converts a body with msgspec's lax rules: a number became a time (seconds since
    1970), "true" a boolean. The document says a time is a string with its offset, a boolean
    true or false; the body is read as it says (and as `scn worker` reads an event)."""
    async with serving(tmp_path, FILES) as s:
        problem = is_problem(await s.client.post(path, json=body), 400)
        assert problem["errors"][0]["key"].startswith(place), problem
        assert await s.count("SELECT count(*) FROM events") == 0
        assert await s.count("SELECT count(*) FROM products") == 0
    with pytest.raises(EventError, match="at"):
        read_event(json.dumps({**paid("ann", "o1"), "at": 1700000000}))


async def test_a_report_bound_before_2000_is_refused_not_a_server_error(tmp_path: Path) -> None:
    """`until=0001-01-01` made the default `since` (30 days before) overflow: a 500."""
    async with serving(tmp_path, FILES) as s:
        for query in ({"until": "0001-01-01"}, {"since": "0001-01-01", "until": "0001-01-02"}, {"since": "1999-12-31"}):
            problem = is_problem(await s.client.get("/api/reports/thanks", params=query), 422)
            assert "2000-01-01" in problem["detail"], problem
        assert (await s.client.get("/api/reports/thanks", params={"until": "9999-12-31"})).status_code == 200
