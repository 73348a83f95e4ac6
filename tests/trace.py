"""``./lane trace``: the traceability matrix (issue #25 (4), T1, T2) — every requirement ID of
``../shared/REQUIREMENTS.md`` with the code that names it and the tests that quote it, written to
``docs/traceability.md``. ``tests/unit/test_traceability.py`` holds the suite to it: the file is
current, every ID a test quotes exists, and every ID has a test but those in :data:`GAPS` (each with
the issue that will bring its test).

A test quotes an ID in its name, its docstring or its comments; its module's docstring quotes it for
every test of the module. The code names an ID in a comment or docstring of the module that does it.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT.parent / "shared" / "REQUIREMENTS.md"
OUT = ROOT / "docs" / "traceability.md"
#: what looks like a requirement ID (R3.7, R10.2, R12, G1, T2, D5), a version number's part never
LOOKS_LIKE = re.compile(r"(?<![\w.])(R3\.\d+|R10\.\d+|R\d{1,2}|G\d|T\d|D\d)(?![\w]|\.\d)")
#: Order No. 532 p. 10 item by item (``seeds/000_…``): REQUIREMENTS.md gives the range R10.1–R10.11
#: one line; the seed numbers two items "11)" (the archive, and user-activity monitoring with leak
#: prevention) — the seed wins, so R10.11 is both
R10 = {
    "R10.1": "Protection of the local network from threats from outside",
    "R10.2": "Identification by login and password, and by certificates of the public key infrastructure",
    "R10.3": "Authorisation of users for the resources that need permissions",
    "R10.4": "Individual rights of each user to enter, correct and view data",
    "R10.5": "Individual rights of each user to reach the software's resources",
    "R10.6": "Logging of the users' work with critical functions",
    "R10.7": "Protection of system files from change or damage by unauthorised users and processes",
    "R10.8": "Previous versions of the software kept for an emergency",
    "R10.9": "Updates tested on server equipment set aside for it",
    "R10.10": "Components tested for function, performance, effect on other systems and vulnerabilities",
    "R10.11": "Old versions archived with their configuration; (the order's second 11) monitoring of "
    "user activity and data-leak prevention on the workstations",
}
#: IDs with no test yet, and what will bring one (the suite fails on any other ID without a test)
GAPS: dict[str, str] = {
    "R10.9": "the vendor's process: a release is tested on the vendor's servers before it is published "
    "(kiosk/publish.py); each lane tests it again on its own data before use (otolane health)",
}


@dataclass
class Row:
    text: str
    code: set[str] = field(default_factory=set)
    tests: set[str] = field(default_factory=set)


def requirement_ids(text: str) -> dict[str, str]:
    """Each ID of the requirement tables with its first sentence; a range (R10.1–R10.11) is its IDs."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"\|\s*([A-Z]\d+(?:\.\d+)?)(?:\s*[–-]\s*([A-Z]\d+\.(\d+)))?\s*\|\s*([^|]+)\|", line)
        if not m:
            continue
        first, last, last_n, said = m.group(1), m.group(2), m.group(3), m.group(4).strip()
        if last:
            head, start = first.rsplit(".", 1)
            for n in range(int(start), int(last_n) + 1):
                out[f"{head}.{n}"] = R10.get(f"{head}.{n}", said)
        else:
            out[first] = said
    return out


def ids_in_matrix(text: str) -> dict[str, str]:
    """The IDs as the committed matrix lists them (a checkout without ``../shared``)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\| ([A-Z]\d+(?:\.\d+)?) \| ([^|]*) \|", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def known_ids() -> dict[str, str]:
    if REQUIREMENTS.exists():
        return requirement_ids(REQUIREMENTS.read_text(encoding="utf-8"))
    return ids_in_matrix(OUT.read_text(encoding="utf-8"))


def quoted(text: str) -> set[str]:
    return set(LOOKS_LIKE.findall(text))


def tests_quoting() -> dict[str, set[str]]:
    """``file::test`` → the IDs it quotes (its own text and its module's docstring)."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines = source.splitlines()
        module = quoted(ast.get_docstring(tree) or "")
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                body = "\n".join(lines[start - 1 : node.end_lineno])
                out[f"{rel}::{node.name}"] = module | quoted(body)
    return out


def code_naming() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for top in ("app", "drivers", "tui", "kiosk"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in (".py", ".service", ".timer", ".map") and "__pycache__" not in path.parts:
                out[path.relative_to(ROOT).as_posix()] = quoted(path.read_text(encoding="utf-8"))
    return out


def matrix() -> tuple[dict[str, Row], dict[str, set[str]]]:
    """The rows by ID, and the tests that quote IDs that do not exist (by the unknown ID)."""
    rows = {i: Row(t) for i, t in known_ids().items()}
    unknown: dict[str, set[str]] = {}
    for test, ids in tests_quoting().items():
        for i in ids:
            (rows[i].tests if i in rows else unknown.setdefault(i, set())).add(test)
    for path, ids in code_naming().items():
        for i in ids & rows.keys():
            rows[i].code.add(path)
    return rows, unknown


def render(rows: dict[str, Row]) -> str:
    out = [
        "# Traceability: requirements → code → tests",
        "",
        "Written by `./lane trace` (`tests/trace.py`) from `../shared/REQUIREMENTS.md`, the code and the",
        "tests; `tests/unit/test_traceability.py` fails when it is not current, when a test quotes an ID",
        "that does not exist, or when an ID has no test (the gaps below excepted, each with its issue).",
        "How a guarantee is shown is in `docs/security.md`; this is the index.",
        "",
        "| ID | requirement | code | tests |",
        "|---|---|---|---|",
    ]
    for i, row in rows.items():
        said = row.text.split(";")[0].replace("|", "/")
        said = said if len(said) <= 90 else said[:87] + "…"
        code = ", ".join(f"`{c}`" for c in sorted(row.code)[:8]) + (
            f" … (+{len(row.code) - 8})" if len(row.code) > 8 else ""
        )
        files = sorted({t.split("::")[0] for t in row.tests})
        tests = f"{len(row.tests)} in " + ", ".join(f"`{f}`" for f in files[:6]) if row.tests else "**none**"
        if len(files) > 6:
            tests += f" … (+{len(files) - 6} files)"
        out.append(f"| {i} | {said} | {code or '—'} | {tests} |")
    gaps = [i for i, r in rows.items() if not r.tests]
    out += ["", "## Gaps", ""]
    out += [f"* {i}: {GAPS.get(i, 'no test yet')}" for i in gaps] or ["None: every ID has a test."]
    return "\n".join(out) + "\n"


def main() -> int:
    rows, unknown = matrix()
    OUT.write_text(render(rows), encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} IDs, {sum(1 for r in rows.values() if r.tests)} with tests")
    for i, tests in sorted(unknown.items()):
        print(f"unknown ID {i} quoted by {', '.join(sorted(tests)[:3])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
