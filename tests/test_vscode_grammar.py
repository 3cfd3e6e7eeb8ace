"""The VS Code extension's TextMate grammar, run as VS Code runs it.

Every example and every ```scn block of docs/language.md is tokenised by
vscode-textmate with vscode-oniguruma (npm, installed in editors/vscode by `npm
install`; .ci/run does it) in a node process. No word, number or sign of a valid
file may be left with only the file's own scope, and chosen tokens get the scopes a
theme colours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from .conftest import EXAMPLES, ROOT
from .test_docs import SCN_BLOCKS

EXTENSION = ROOT / "editors" / "vscode"
TOKENISE = EXTENSION / "test" / "tokenize.js"

Tokens = list[list[dict[str, object]]]


def _ready() -> str | None:
    """Why the grammar cannot be run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    for package in ("vscode-textmate", "vscode-oniguruma"):
        if not (EXTENSION / "node_modules" / package).is_dir():
            return f"{package} is not installed: run `npm install` in editors/vscode"
    return None


@pytest.fixture(scope="module")
def tokenised() -> dict[str, Tokens]:
    missing = _ready()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the grammar test must run in CI: {missing}")
        pytest.skip(missing)
    texts = {path.name: path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.scn"))}
    texts.update({f"language.md:{block.line}": block.text for block in SCN_BLOCKS})
    done = subprocess.run(
        ["node", str(TOKENISE)],
        input=json.dumps({"texts": texts}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, Tokens] = json.loads(done.stdout)
    return found


def scope_of(tokens: Tokens, text: str, line_has: str = "", occurrence: int = 0) -> str:
    """The innermost scope of the ``occurrence``-th token ``text`` on lines containing ``line_has``."""
    seen = 0
    for line in tokens:
        if line_has and line_has not in "".join(str(t["text"]) for t in line):
            continue
        for token in line:
            if token["text"] == text:
                if seen == occurrence:
                    scopes = token["scopes"]
                    assert isinstance(scopes, list)
                    return str(scopes[-1])
                seen += 1
    raise AssertionError(f"no token {text!r} on a line with {line_has!r}")


def test_every_example_and_docs_block_is_tokenised(tokenised: dict[str, Tokens]) -> None:
    assert len([name for name in tokenised if name.endswith(".scn")]) == len(list(EXAMPLES.glob("*.scn")))
    assert len(tokenised) > 50


def test_no_token_is_left_unscoped(tokenised: dict[str, Tokens]) -> None:
    bare = [
        (name, number + 1, token["text"])
        for name, lines in tokenised.items()
        for number, line in enumerate(lines)
        for token in line
        if str(token["text"]).strip() and token["scopes"] == ["source.scn"]
    ]
    assert bare == []


def test_chosen_tokens_have_their_scopes(tokenised: dict[str, Tokens]) -> None:
    unpaid = tokenised["unpaid_recovery.scn"]
    assert scope_of(unpaid, "list", "list unpaid_coupon") == "storage.type.declaration.scn"
    assert scope_of(unpaid, "unpaid_coupon", 'list unpaid_coupon "') == "entity.name.type.declaration.scn"
    assert scope_of(unpaid, "Unpaid orders: coupon holders") == "string.quoted.double.scn"
    assert scope_of(unpaid, "10%", "coupon UNPAID10") == "constant.numeric.percent.scn"
    assert scope_of(unpaid, "<school@kwiga.example>") == "string.other.address.scn"
    assert scope_of(unpaid, "order.unpaid", "on order.unpaid") == "entity.name.event.scn"
    assert scope_of(unpaid, "offer", "on order.unpaid") == "variable.other.property.scn"
    assert scope_of(unpaid, "30m") == "constant.numeric.duration.scn"
    assert scope_of(unpaid, "wait", "wait 30m") == "keyword.control.scn"
    assert scope_of(unpaid, "if", "stop if order.paid") == "keyword.control.scn"
    assert scope_of(unpaid, "@reminder") == "entity.name.label.scn"
    assert scope_of(unpaid, "email", "@reminder") == "support.type.channel.scn"
    assert scope_of(unpaid, "unpaid_reminder", "@reminder") == "variable.other.declared.scn"
    assert scope_of(unpaid, "# payments can take a while to arrive") == "comment.line.number-sign.scn"
    assert scope_of(unpaid, "end", "end", occurrence=1) == "keyword.control.scn"
    repeat = tokenised["repeat_order.scn"]
    assert scope_of(repeat, "21:00") == "constant.numeric.time.scn"
    loyalty = tokenised["loyalty_groups.scn"]
    assert scope_of(loyalty, "1000 UAH") == "constant.numeric.money.scn"
    assert scope_of(loyalty, "cashback", "group newcomers") == "variable.other.declared.scn"


def test_the_policy_block_has_its_scopes(tokenised: dict[str, Tokens]) -> None:
    (policy,) = [lines for lines in tokenised.values() if lines and lines[0] and lines[0][0]["text"] == "policy"]
    assert scope_of(policy, "policy") == "storage.type.declaration.scn"
    assert scope_of(policy, "email", "email at most") == "support.type.channel.scn"
    assert scope_of(policy, "7d") == "constant.numeric.duration.scn"
    assert scope_of(policy, "second", "smtp at most") == "keyword.other.scn"
    assert scope_of(policy, "end") == "keyword.control.scn"


def test_the_order_words_have_their_scopes(tokenised: dict[str, Tokens]) -> None:
    blocks = [lines for lines in tokenised.values() if any("ignore orders older than" in "".join(
        str(t["text"]) for t in line) for line in lines)]  # fmt: skip
    assert blocks, "a docs block says `ignore orders older than`"
    for word in ("ignore", "orders", "older", "than"):
        assert scope_of(blocks[0], word, "ignore orders older than") == "keyword.control.scn", word
    items = [lines for lines in tokenised.values() if any("all items are" in "".join(
        str(t["text"]) for t in line) for line in lines)]  # fmt: skip
    assert items, "a docs block says `all items are`"
    for word in ("all", "items", "are"):
        assert scope_of(items[0], word, "all items are") == "keyword.control.scn", word
