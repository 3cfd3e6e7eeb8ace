"""The two-proportion z-test of a variant against its control, checked against values
worked out by hand (and by any statistics package) for the textbook cases."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scn.grammar import parse
from scn.grammar._format import format_source
from scn.interpreter import program as p
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.versions.promote import PromoteError, promote
from scn.server.services import ReportService
from scn.stdlib.experiments import compare

from .conftest import EXAMPLES, check_texts
from .harness import Harness, checked, html_resources
from .server_harness import serving
from .test_client import scn
from .test_runtime import TEMPLATES

START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CENT = Decimal("0.01")


def test_a_known_case_200_of_1000_against_250_of_1000() -> None:
    # p1 = 0.25, p2 = 0.20; pooled 0.225; se = sqrt(0.225 * 0.775 * 0.002) = 0.0186749
    # z = 0.05 / 0.0186749 = 2.6774; two-sided p = 0.00742
    # Wald se = sqrt(0.25*0.75/1000 + 0.2*0.8/1000) = 0.0186414; CI 0.05 ± 0.0365366
    found = compare(250, 1000, 200, 1000)
    assert found is not None
    assert found.difference == pytest.approx(0.05)
    assert found.z == pytest.approx(2.6774, abs=1e-4)
    assert found.p_value == pytest.approx(0.00742, abs=1e-5)
    assert found.low == pytest.approx(0.013463, abs=1e-6) and found.high == pytest.approx(0.086537, abs=1e-6)
    assert found.enough and found.significant


def test_a_small_difference_is_not_significant_and_the_interval_holds_zero() -> None:
    found = compare(105, 1000, 100, 1000)
    assert found is not None and not found.significant and found.low < 0 < found.high
    assert found.p_value == pytest.approx(math.erfc(abs(found.z) / math.sqrt(2)))


def test_the_test_is_symmetric() -> None:
    a, b = compare(30, 200, 45, 210), compare(45, 210, 30, 200)
    assert a is not None and b is not None
    assert a.z == pytest.approx(-b.z) and a.p_value == pytest.approx(b.p_value)


@pytest.mark.parametrize(
    ("variant", "control", "enough"),
    [((5, 10), (5, 10), True), ((4, 10), (5, 10), False), ((10, 10), (5, 10), False), ((0, 0), (5, 10), None)],
)
def test_too_few_conversions_give_no_verdict(
    variant: tuple[int, int], control: tuple[int, int], enough: bool | None
) -> None:
    found = compare(*variant, *control)
    if enough is None:
        assert found is None, "an empty group is no comparison"
        return
    assert found is not None and found.enough is enough
    if not enough:
        assert not found.significant


def test_no_spread_at_all_is_no_difference() -> None:
    found = compare(0, 50, 0, 50)
    assert found is not None and (found.z, found.p_value, found.significant) == (0.0, 1.0, False)


SPLIT = """
template t_a email
  from "Shop" <shop@example.com>
  subject "A"
  html "a.html"
end
scenario ab "A/B"
  on contact.registered
  split
    variant a 50%
      send email t_a
    control 50%
  end
end
"""


async def test_the_report_compares_each_variant_with_the_control(tmp_path: Path) -> None:
    async with serving(tmp_path, {"ab.scn": SPLIT, "a.html": "<p>Hello</p>"}) as s:
        people = [{"type": "contact.registered", "key": f"r{i}",
                   "contact": {"id": f"c{i}", "email": f"c{i}@example.com"}} for i in range(400)]  # fmt: skip
        assert (await s.client.post("/api/events", json=people)).status_code == 202
        await s.settle()
        runs = (await s.client.get("/api/runs", params={"scenario": "ab", "limit": 500})).json()["items"]
        variant = {r["contact_id"]: r["variant"] for r in runs}
        # Every third contact of variant a pays, every tenth of the control.
        payers = [c for c, v in variant.items() if int(c[1:]) % (3 if v == "a" else 10) == 0]
        orders = [{"contact": {"id": c}, "order": {"id": f"o-{c}", "status": "paid", "total": "10.00",
                                                   "currency": "EUR"}} for c in payers]  # fmt: skip
        for order in orders:
            assert (await s.client.post("/api/orders", json=order)).status_code == 202
        await s.settle()
        (split,) = await ReportService(s.core).splits(s.core.engine.program("ab"), START, s.core.clock.now())
        arms = {a["name"]: a for a in split["arms"]}
        a, control = arms["a"], arms["control"]
        assert split["against"] == "control" and control["versus"] is None
        assert a["runs"] + control["runs"] == 400
        expected = compare(a["converted"], a["runs"], control["converted"], control["runs"])
        assert a["versus"] == expected and expected is not None and expected.significant
        assert a["revenue_per_contact"] == {"EUR": str((Decimal(10) * a["converted"] / a["runs"]).quantize(CENT))}
        page = (await s.client.get("/reports/ab")).text
        assert "Against control" in page and "significant" in page


def test_promoting_keeps_the_file_as_written_but_the_split() -> None:
    text = (EXAMPLES / "repeat_order.scn").read_text(encoding="utf-8")
    promoted = promote(text, "repeat_order.scn", "repeat_order", "popular")
    assert "    variant popular 100%\n      send email second_popular" in promoted
    for gone in (
        "variant by_segment",
        "variant personal",
        "control 10%",
        "send email second_segment",
        "send email second_personal",
    ):
        assert gone not in promoted, gone
    before, after = text.split("  split\n")[0], promoted.split("  split\n")[0]
    assert before == after, "everything before the split is as written, comments included"
    parsed = parse(promoted, "repeat_order.scn")
    assert parsed.ok, parsed.diagnostics


@pytest.mark.parametrize(
    ("scenario", "variant", "words"),
    [("repeat_order", "nope", "its variants: by_segment, personal, popular"), ("nobody", "a", "no scenario")],
)
def test_promoting_what_is_not_there_says_what_is(scenario: str, variant: str, words: str) -> None:
    text = (EXAMPLES / "repeat_order.scn").read_text(encoding="utf-8")
    with pytest.raises(PromoteError, match=words):
        promote(text, "repeat_order.scn", scenario, variant)


async def test_promoting_over_the_api_makes_a_new_version_where_every_new_run_takes_the_winner(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, {"ab.scn": SPLIT, "a.html": "<p>Hello</p>"}) as s:
        answer = await s.client.post("/api/scenarios/ab/promote", json={"variant": "a"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["versions"]["ab"] == 2
        people = [{"type": "contact.registered", "key": f"r{i}", "contact": {"id": f"c{i}"}} for i in range(50)]
        assert (await s.client.post("/api/events", json=people)).status_code == 202
        await s.settle()
        runs = (await s.client.get("/api/runs", params={"scenario": "ab", "limit": 100})).json()["items"]
        assert {r["variant"] for r in runs} == {"a"} and len(runs) == 50
        audit = (await s.client.get("/api/scenarios/ab/audit")).json()["items"]
        assert any("promoted a" in entry["actor"] for entry in audit), audit
        missing = await s.client.post("/api/scenarios/ab/promote", json={"variant": "control"})
        assert missing.status_code == 422 and "variant" in missing.json()["detail"]
        assert (await s.client.post("/api/scenarios/nope/promote", json={"variant": "a"})).status_code == 404


async def test_scn_promote_from_the_command_line(tmp_path: Path) -> None:
    async with serving(tmp_path, {"ab.scn": SPLIT, "a.html": "<p>Hello</p>"}) as s:
        code, out, err = await scn(s.base, "promote", "ab", "a")
        assert (code, out) == (0, "ab: variant a takes every new run from version 2\n"), err
        code, out, err = await scn(s.base, "promote", "ab", "b")
        assert code == 1 and "no variant 'b'" in err, err


HOLDOUT = (
    TEMPLATES
    + """
scenario ab "A/B"
  on contact.registered
  split with 10% control
    variant a 50%
      send email t_a
    variant b 50%
      send email t_b
  end
end
"""
)


def _split_of(text: str) -> Any:
    program = compile_workspace(checked(text)).scenarios["ab"]
    (split,) = (i for i in program.instructions if isinstance(i, p.Split))
    return split


def test_50_50_with_10_percent_control_is_45_45_and_a_10_percent_hold_out() -> None:
    split = _split_of(HOLDOUT)
    assert [(a.name, Decimal(a.weight)) for a in split.arms] == [("a", Decimal(45)), ("b", Decimal(45))]
    assert Decimal(split.control) == 10


def test_a_third_each_with_a_control_keeps_every_share_exact() -> None:
    text = HOLDOUT.replace("variant a 50%", "variant a 33.33%").replace("variant b 50%", "variant b 66.67%")
    split = _split_of(text.replace("with 10% control", "with 12.5% control"))
    weights = [Decimal(a.weight) for a in split.arms]
    assert weights == [Decimal("29.163750"), Decimal("58.336250")]
    assert sum(weights) + Decimal(split.control) == 100


async def test_the_hold_out_gets_its_share_of_1000_contacts_and_nothing_else() -> None:
    async with Harness(HOLDOUT, resources={"a.html": "<p>a</p>", "b.html": "<p>b</p>"}) as h:
        await h.play([h.event("contact.registered", f"c{i}", key=f"k{i}") for i in range(1000)])
        variants = Counter(v for (v,) in await h.rows("SELECT variant FROM runs"))
        sent = Counter(t for (t,) in await h.rows("SELECT template FROM outbox"))
    assert sum(variants.values()) == 1000
    assert abs(variants["control"] - 100) <= 30 and abs(variants["a"] - 450) <= 50
    assert (sent["t_a"], sent["t_b"]) == (variants["a"], variants["b"])


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (("with 10% control", "with 0% control"), "SCN317", "from above 0% to below 100%"),
        (("with 10% control", "with 100% control"), "SCN317", "from above 0% to below 100%"),
        (("variant b 50%", "variant b 40%"), "SCN301", "the variants' shares add up to 90%, not 100%"),
        (("  end\nend", "    control 10%\n  end\nend"), "SCN309", "one control group"),
    ],
)
def test_a_hold_out_off_the_top_is_checked_at_its_bounds(change: tuple[str, str], code: str, words: str) -> None:
    text = HOLDOUT.replace(*change)
    assert text != HOLDOUT
    found = check_texts({"t.scn": text}, html_resources(text)).diagnostics
    assert any(d.code.code == code and words in d.message for d in found), [(d.code.code, d.message) for d in found]


def test_a_hold_out_of_99_99_percent_is_allowed() -> None:
    assert Decimal(_split_of(HOLDOUT.replace("with 10% control", "with 99.99% control")).control) == Decimal("99.99")


def test_the_formatter_keeps_the_hold_out_header() -> None:
    squashed = HOLDOUT.replace("  split with 10% control\n", "  split   with   10%   control\n")
    assert format_source(parse(squashed, "t.scn")) == HOLDOUT.lstrip("\n")


def test_the_formatter_keeps_a_split_per_run() -> None:
    text = HOLDOUT.replace("  split with 10% control\n", "  split per run with 10% control\n")
    assert format_source(parse(text.replace("split per run", "split  per\n  run"), "t.scn")) == text.lstrip("\n")
    bare = text.replace(" with 10% control", "").replace("variant a 50%", "variant a 60%")
    assert "  split per run\n    variant a 60%\n" in format_source(parse(bare, "t.scn"))
    assert _split_of(text).per_run and not _split_of(HOLDOUT).per_run


def test_promoting_a_variant_drops_the_hold_out_header() -> None:
    promoted = promote(HOLDOUT, "t.scn", "ab", "b")
    assert "  split\n    variant b 100%\n      send email t_b\n  end\n" in promoted
    assert "control" not in promoted and "variant a" not in promoted
    checked(promoted)
