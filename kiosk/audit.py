"""``./lane audit``: the dependency audit (R10.10 "components tested for vulnerabilities"; issue #25
(4)). Every Python distribution the lane runs with, asked of PyPA's ``pip-audit`` (the PyPI and OSV
advisory databases). The verdict is one of three, never a silent pass:

* ``clean``   — the service answered and named no vulnerability (exit 0);
* ``found``   — it named some: each distribution, version, advisory and the fixed versions (exit 1);
* ``not asked`` — the service could not be reached, or it could not look a distribution up (pip-audit
  then still says "No known vulnerabilities found": that is no pass); this build network reaches the
  package index only:
  said with the reason, and the list of distributions written to ``build/audit-packages.txt`` for a
  machine that can ask (``pip-audit -r build/audit-packages.txt``) (exit 0 unless ``--strict``).

``./lane test`` runs it first; a vulnerability found fails the suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT / "build" / "audit-packages.txt"


def installed() -> list[tuple[str, str]]:
    """Every distribution of this environment but the lane itself, by name."""
    out = {(d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()}
    out.pop("otolane", None)
    out.pop("", None)
    return sorted(out.items())


def verdict(code: int, stdout: str, stderr: str) -> tuple[str, list[str]]:
    """pip-audit's exit, JSON and errors as the audit's verdict and its lines."""
    try:
        report: Any = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        report = None
    deps = report.get("dependencies", []) if isinstance(report, dict) else None
    if deps is None:
        reason = (stderr.strip().splitlines() or ["no answer"])[-1][:300]
        return "not asked", [f"the advisory service could not be asked: {reason}"]
    lines = []
    for d in deps:
        for v in d.get("vulns", []):
            fixed = ", ".join(v.get("fix_versions", [])) or "no fixed version"
            lines.append(f"{d.get('name')} {d.get('version')}: {v.get('id')} (fixed in {fixed})")
    if lines:
        return "found", lines
    skipped = [d for d in deps if d.get("skip_reason")]
    if skipped:  # pip-audit says "No known vulnerabilities found" of what it could not look up
        first = str(skipped[0]["skip_reason"])[:200]
        return "not asked", [f"{len(skipped)} of {len(deps)} distributions could not be looked up ({first})"]
    if code != 0:
        return "not asked", [f"pip-audit ended with {code} and named nothing: {stderr.strip()[-300:]}"]
    return "clean", [f"{len(deps)} distributions, no known vulnerability"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./lane audit", description=__doc__.splitlines()[0])
    ap.add_argument("--strict", action="store_true", help="a service not reached is a failure too")
    ap.add_argument("--timeout", type=int, default=10, help="seconds to wait for the advisory service")
    args = ap.parse_args(argv)
    packages = installed()
    LIST.parent.mkdir(exist_ok=True)
    LIST.write_text("".join(f"{name}=={version}\n" for name, version in packages))
    cmd = [sys.executable, "-m", "pip_audit", "-r", str(LIST), "--no-deps", "--disable-pip"]
    cmd += ["-f", "json", "--progress-spinner", "off", "--timeout", str(args.timeout)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout * 20)  # noqa: S603
        said, lines = verdict(run.returncode, run.stdout, run.stderr)
    except subprocess.TimeoutExpired:
        said, lines = "not asked", ["the advisory service did not answer in time"]
    print(f"audit: {len(packages)} distributions — {said}")
    for line in lines:
        print(f"  {line}")
    if said == "not asked":
        print(f"  the list is in {LIST.relative_to(ROOT)}: `pip-audit -r` it where the service is reachable")
    return 1 if said == "found" or (said == "not asked" and args.strict) else 0


if __name__ == "__main__":
    raise SystemExit(main())
