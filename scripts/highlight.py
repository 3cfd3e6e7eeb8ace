#!/usr/bin/env python3
"""A picture of .scn highlighting as VS Code shows it, made from the extension's grammar.

The example is tokenised by the real TextMate grammar (editors/vscode/syntaxes/) with
vscode-textmate, which also matches the scopes against VS Code's Dark+ theme rules
(editors/vscode/test/dark-plus.json), in a node process (editors/vscode/test/tokenize.js;
`npm ci` in editors/vscode installs what it needs). The coloured tokens are written as:

* docs/images/editor-highlighting.svg: text, committed, shown by docs/editors.md;
  tests/test_highlight_picture.py fails when it is not what the grammar gives today;
* with --html FILE: the same as an HTML page (what a browser test loads);
* with --png: docs/images/editor-highlighting.png, the page shot by Debian's Chromium
  (/usr/bin/chromium, driven by Playwright; not committed, the repository keeps no binaries).

Run: python scripts/highlight.py [--png] [--html FILE] [--check]
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "editors" / "vscode"
TOKENISE = EXTENSION / "test" / "tokenize.js"
THEME = EXTENSION / "test" / "dark-plus.json"
EXAMPLE = ROOT / "examples" / "unpaid_recovery.scn"
SVG = ROOT / "docs" / "images" / "editor-highlighting.svg"
PNG = SVG.with_suffix(".png")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

#: VS Code's editor font on Linux, its size and line height (px), and a monospace
#: character's width at that size.
FONT = "'Droid Sans Mono', 'DejaVu Sans Mono', 'Liberation Mono', monospace"
SIZE, LINE, CHAR = 14, 19, 8.43
#: Room around the text, and the tab bar with the file's name.
PAD, BAR = 16, 34
#: fontStyle bits of vscode-textmate.
ITALIC, BOLD, UNDERLINE = 1, 2, 4

Token = dict[str, Any]


def theme() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(THEME.read_text(encoding="utf-8"))
    return found


def editor_colours(rules: dict[str, Any]) -> tuple[str, str]:
    """The theme's default foreground and background (its rule without a scope)."""
    plain = next(rule["settings"] for rule in rules["settings"] if "scope" not in rule)
    return str(plain["foreground"]), str(plain["background"])


def tokenise(text: str, rules: dict[str, Any]) -> list[list[Token]]:
    """The lines of ``text`` as tokens with their scopes, foreground and font style."""
    done = subprocess.run(
        ["node", str(TOKENISE)],
        input=json.dumps({"texts": {"example": text}, "theme": rules}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines: list[list[Token]] = json.loads(done.stdout)["example"]
    if lines and not lines[-1]:  # the file's final newline
        lines.pop()
    return lines


def _style(token: Token) -> str:
    style = int(token.get("fontStyle", 0))
    parts = [f"color: {token['foreground']}"]
    if style & ITALIC:
        parts.append("font-style: italic")
    if style & BOLD:
        parts.append("font-weight: bold")
    if style & UNDERLINE:
        parts.append("text-decoration: underline")
    return "; ".join(parts)


def to_html(lines: list[list[Token]], name: str, rules: dict[str, Any]) -> str:
    """A page with the code as VS Code colours it; each token a span with its innermost scope."""
    foreground, background = editor_colours(rules)
    rows = []
    for line in lines:
        spans = "".join(
            f'<span class="t" data-scope="{html.escape(token["scopes"][-1])}" style="{_style(token)}">'
            f"{html.escape(token['text'])}</span>"
            for token in line
        )
        rows.append(spans or " ")
    code = "\n".join(rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)}</title>
<style>
body {{ margin: 0; background: #fff; }}
.editor {{ display: inline-block; background: {background}; color: {foreground}; border-radius: 6px; }}
.tab {{ font: 13px system-ui, sans-serif; color: #ccc; padding: 8px {PAD}px; border-bottom: 1px solid #333; }}
pre {{ margin: 0; padding: {PAD}px; font: {SIZE}px/{LINE}px {FONT}; }}
</style></head>
<body><div class="editor"><div class="tab">{html.escape(name)}</div><pre>{code}</pre></div></body></html>
"""


def _width(text: str) -> float:
    return len(text) * CHAR


def to_svg(lines: list[list[Token]], name: str, rules: dict[str, Any]) -> str:
    """The same picture as an SVG of text (a tspan per token), for the docs."""
    foreground, background = editor_colours(rules)
    longest = max((_width("".join(t["text"] for t in line)) for line in lines), default=0.0)
    width = round(longest + 2 * PAD)
    height = BAR + PAD + len(lines) * LINE + PAD // 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{html.escape(name)} highlighted by the scn VS Code grammar (Dark+)">',
        f"<!-- Made by scripts/highlight.py from {EXAMPLE.relative_to(ROOT).as_posix()}"
        " and editors/vscode/syntaxes/scn.tmLanguage.json: do not edit, run it again. -->",
        f'<rect width="{width}" height="{height}" rx="6" fill="{background}"/>',
        f'<text x="{PAD}" y="22" fill="#CCCCCC" font-family="system-ui, sans-serif" font-size="13">'
        f"{html.escape(name)}</text>",
        f'<line x1="0" y1="{BAR}" x2="{width}" y2="{BAR}" stroke="#333333"/>',
        f'<g font-family="{html.escape(FONT)}" font-size="{SIZE}" xml:space="preserve" fill="{foreground}">',
    ]
    for number, line in enumerate(lines):
        y = BAR + PAD + number * LINE + SIZE - 3
        x = 0.0
        parts = []
        for token in line:
            text = token["text"]
            if text.strip():
                style = int(token.get("fontStyle", 0))
                extra = (' font-style="italic"' if style & ITALIC else "") + (
                    ' font-weight="bold"' if style & BOLD else ""
                )
                parts.append(
                    f'<tspan x="{PAD + x:.1f}" fill="{token["foreground"]}"{extra}>{html.escape(text)}</tspan>'
                )
            x += _width(text)
        if parts:
            out.append(f'<text y="{y}">{"".join(parts)}</text>')
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def shoot(page_html: str, out: Path) -> None:
    """A PNG of the page's editor, by Debian's Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(device_scale_factor=2)
            page.set_content(page_html)
            page.locator(".editor").screenshot(path=str(out))
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="the .scn file to show")
    parser.add_argument("--svg", type=Path, default=SVG, help="where the SVG goes")
    parser.add_argument("--html", type=Path, help="also write the page here")
    parser.add_argument("--png", action="store_true", help=f"also shoot the page with Chromium into {PNG.name}")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the SVG is not up to date")
    args = parser.parse_args()
    rules = theme()
    lines = tokenise(args.example.read_text(encoding="utf-8"), rules)
    name = args.example.name
    svg = to_svg(lines, name, rules)
    if args.check:
        current = args.svg.read_text(encoding="utf-8") if args.svg.exists() else ""
        if current != svg:
            print(f"{args.svg} is not what the grammar gives: run python scripts/highlight.py", file=sys.stderr)
            return 1
        return 0
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    args.svg.write_text(svg, encoding="utf-8")
    print(f"wrote {args.svg}")
    page = to_html(lines, name, rules)
    if args.html:
        args.html.write_text(page, encoding="utf-8")
        print(f"wrote {args.html}")
    if args.png:
        shoot(page, args.svg.with_suffix(".png"))
        print(f"wrote {args.svg.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
