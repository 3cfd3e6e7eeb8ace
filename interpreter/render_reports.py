"""Reports for CI systems and summaries: `--statistics`, JUnit XML and GitLab Code Quality."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .codes import REGISTRY, Severity
from .diagnostics import Diagnostic
from .fixes import fixable
from .render import location

#: Characters XML 1.0 cannot hold even escaped; a message quoting a file's text may carry them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def statistics(diagnostics: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    """A count per code, the most frequent first (then by code), and how many `--fix` repairs."""
    counts = Counter(d.code.code for d in diagnostics)
    safe = Counter(d.code.code for d in fixable(diagnostics, unsafe=False))
    return [
        {"code": code, "name": REGISTRY[code].name, "count": count, "fixable": safe[code]}
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def render_statistics(diagnostics: Sequence[Diagnostic], *, as_json: bool = False) -> str:
    """As Ruff's `--statistics`: `count<TAB>code<TAB>[*] name` a line, `[*]` where `--fix` repairs some."""
    rows = statistics(diagnostics)
    if as_json:
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    width = max((len(str(r["count"])) for r in rows), default=1)
    return "".join(f"{r['count']:>{width}}\t{r['code']}\t{'[*] ' if r['fixable'] else ''}{r['name']}\n" for r in rows)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_junit(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> str:
    """JUnit XML, which CI systems show as test results: a test suite per checked file, a
    failing test case per finding, and one passing case for a file without findings."""
    by_file: dict[str, list[Diagnostic]] = {path: [] for path in files}
    for d in diagnostics:
        by_file.setdefault(d.span.file, []).append(d)
    root = ET.Element("testsuites", name="scn check", tests="0", failures=str(len(diagnostics)), errors="0")
    total = 0
    for path, found in by_file.items():
        tests = max(len(found), 1)
        total += tests
        suite = ET.SubElement(
            root, "testsuite", name=_xml_text(path), tests=str(tests), failures=str(len(found)), errors="0"
        )
        if not found:
            ET.SubElement(suite, "testcase", name="scn check", classname=_xml_text(path), file=_xml_text(path))
        for d in found:
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"{d.code.code} {d.code.name} at {d.span.line}:{d.span.column}",
                classname=_xml_text(path),
                file=_xml_text(path),
                line=str(d.span.line),
            )
            failure = ET.SubElement(
                case, "failure", message=_xml_text(d.message), type=f"{d.code.code} {d.severity.value}"
            )
            details = [f"{location(d.span)}: {d.code.code} {d.message}", *(f"help: {h}" for h in d.help)]
            failure.text = _xml_text("\n".join(details))
    root.set("tests", str(total))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _fingerprint(d: Diagnostic, occurrence: int) -> str:
    """Stable across runs and across edits elsewhere in the file (no line numbers): the code,
    the file, the message, and which occurrence of that same finding in that file it is."""
    key = "\0".join((d.code.code, d.span.file, d.message, str(occurrence)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def render_gitlab(diagnostics: Sequence[Diagnostic]) -> str:
    """GitLab Code Quality: a JSON list GitLab shows on merge requests and their diffs."""
    seen: Counter[tuple[str, str, str]] = Counter()
    issues = []
    for d in diagnostics:
        key = (d.code.code, d.span.file, d.message)
        seen[key] += 1
        issues.append(
            {
                "description": f"{d.code.code} {d.message}",
                "check_name": f"{d.code.code} {d.code.name}",
                "fingerprint": _fingerprint(d, seen[key]),
                "severity": "minor" if d.severity is Severity.WARNING else "major",
                "location": {
                    "path": d.span.file.replace("\\", "/"),
                    "lines": {"begin": d.span.line, "end": d.span.end_line},
                },
            }
        )
    return json.dumps(issues, ensure_ascii=False, indent=2) + "\n"
