"""The journal's secret filter is a safety net, not a place where facts vanish (R10.6, R3.15).

The filter hides any detail whose name contains a secret word (``app/journal.py``: SECRET_WORDS), so a
password or token passed by mistake is never written. The price is that a fact named with such a word
is hidden too: session 18 found a login's ``password_expired`` written as ``***``. These tests read
every detail name the code writes and require each to be visible, and check the net itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

from app.journal import SECRET_WORDS, Journal

ROOT = Path(__file__).resolve().parents[2]


def _journal_calls(tree: ast.AST) -> list[ast.Call]:
    """Calls of ``….journal.write(…)`` / ``journal.write(…)`` / ``Journal.entry(…)``."""
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if (node.func.attr, name) in (("write", "journal"), ("entry", "Journal")):
            calls.append(node)
    return calls


def _forwarders(trees: list[tuple[Path, ast.AST]]) -> dict[str, set[str]]:
    """Functions that hand their ``**details`` on to the journal (``open_session(…, expired=…)``):
    name → its declared parameters (a keyword that is not one of them is a detail)."""
    out: dict[str, set[str]] = {}
    for _, tree in trees:
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or fn.args.kwarg is None:
                continue
            rest = fn.args.kwarg.arg
            if any(
                kw.arg is None and getattr(kw.value, "id", "") == rest
                for c in _journal_calls(fn)
                for kw in c.keywords
            ):
                out[fn.name] = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
    return out


def _detail_names() -> dict[str, list[str]]:
    """detail name → where it is written (file:line), over every module of app/ and drivers/."""
    trees = [
        (path, ast.parse(path.read_text("utf-8")))
        for package in ("app", "drivers")
        for path in sorted((ROOT / package).rglob("*.py"))
    ]
    forwarders = _forwarders(trees)
    journal = {id(c) for _, tree in trees for c in _journal_calls(tree)}
    names: dict[str, list[str]] = {}
    for path, tree in trees:
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            keys: list[str] = []
            if id(call) in journal:
                keys = [kw.arg for kw in call.keywords if kw.arg is not None and kw.arg != "conn"]
                # Journal.entry(actor, action, {details}): a literal dict's keys
                if called == "entry" and len(call.args) > 2 and isinstance(call.args[2], ast.Dict):
                    keys += [k.value for k in call.args[2].keys if isinstance(k, ast.Constant)]
            elif called in forwarders:
                keys = [kw.arg for kw in call.keywords if kw.arg and kw.arg not in forwarders[called]]
            for key in keys:
                names.setdefault(str(key), []).append(f"{path.relative_to(ROOT)}:{call.lineno}")
    return names


def test_the_scan_finds_the_journal_writes() -> None:
    """The scan itself reads the code: it finds the details we know are written."""
    names = _detail_names()
    assert {"inspection_id", "card_id", "reason", "expired", "fingerprint"} <= set(names)
    assert len(names) > 40


def test_no_detail_the_code_writes_is_hidden_by_the_secret_filter() -> None:
    """R3.15: every fact the lane journals can be read back; a name with a secret word in it would be
    written as *** (name it for the fact: ``expired``, not ``password_expired``)."""
    hidden = {n: where for n, where in _detail_names().items() if any(w in n for w in SECRET_WORDS)}
    assert hidden == {}


def test_a_secret_passed_by_mistake_is_never_written() -> None:
    """R10.6: the net holds for any name that contains a secret word, wherever in the name."""
    details = {
        "password": "Good-pass-2026",
        "new_password": "x",
        "session_token": "t",
        "client_secret": "s",
        "key_material": "k",
        "fingerprint": "AB:CD",
        "expired": True,
    }
    written = Journal.entry("admin", "test", details, ts=0.0)["details"]
    assert written == {
        "password": "***",
        "new_password": "***",
        "session_token": "***",
        "client_secret": "***",
        "key_material": "***",
        "fingerprint": "AB:CD",
        "expired": True,
    }
