"""The dependency audit (R10.10, issue #25 (4)): pip-audit's answer read as clean, found or not
asked — never a pass for what it could not look up (on a network without the advisory service it
prints "No known vulnerabilities found" of distributions it skipped)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kiosk.audit import installed, verdict

ROOT = Path(__file__).resolve().parents[2]


def test_distributions_that_could_not_be_looked_up_are_not_a_pass() -> None:
    """R10.10: the shape pip-audit 2.10 prints when PyPI's advisory API does not answer."""
    skipped = {"dependencies": [{"name": "aiohttp", "skip_reason": "Dependency not found on PyPI"}] * 3}
    said, lines = verdict(0, json.dumps(skipped), "No known vulnerabilities found")
    assert said == "not asked" and "3 of 3" in lines[0]


def test_a_vulnerability_is_named_with_its_fix_and_fails() -> None:
    report = {
        "dependencies": [
            {
                "name": "aiohttp",
                "version": "3.8.0",
                "vulns": [{"id": "PYSEC-2023-120", "fix_versions": ["3.8.5"]}],
            },
            {"name": "attrs", "version": "23.1.0", "vulns": []},
        ]
    }
    said, lines = verdict(1, json.dumps(report), "")
    assert said == "found" and lines == ["aiohttp 3.8.0: PYSEC-2023-120 (fixed in 3.8.5)"]


def test_only_an_answer_for_every_distribution_is_clean() -> None:
    report = {"dependencies": [{"name": "attrs", "version": "23.1.0", "vulns": []}]}
    assert verdict(0, json.dumps(report), "")[0] == "clean"
    assert verdict(1, "", "ConnectionError: pypi.org unreachable")[0] == "not asked"
    assert verdict(1, "{not json", "")[0] == "not asked"


def test_the_audit_runs_and_says_its_verdict() -> None:
    """The real pip-audit over this environment: one of the three verdicts, never a traceback; the
    list an auditor's machine can ask about is written."""
    assert ("aiohttp", __import__("aiohttp").__version__) in installed()
    run = subprocess.run(
        [sys.executable, "kiosk/audit.py", "--timeout", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    first = run.stdout.splitlines()[0]
    assert first.endswith(("clean", "found", "not asked")), run.stdout + run.stderr
    assert (run.returncode == 1) == first.endswith("found")
    assert "aiohttp==" in (ROOT / "build" / "audit-packages.txt").read_text()
