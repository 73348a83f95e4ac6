"""The mutation report of ``./lane mutate``: the share of mutants the tests killed, module by module,
and the survivors with their diffs (issue #7). mutmut writes one ``.meta`` file per mutated module
under ``mutants/``; its exit codes say what became of each mutant.

A timeout counts as killed (the mutant hung the code: a test noticed); "no tests" counts as
survived (no test even reached it); mutants not checked yet (an interrupted run) are left out of
the share and counted apart."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
UNCHECKED = {"not checked", "check was interrupted by user"}


def collect(mutants: Path) -> dict[str, Counter[str]]:
    per_module: dict[str, Counter[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = str(meta.relative_to(mutants)).removesuffix(".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        per_module[module] = Counter(status_by_exit_code[code] for code in codes.values())
    return per_module


def survivors(mutants: Path) -> list[str]:
    out = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if status_by_exit_code[code] not in KILLED | UNCHECKED:
                out.append(key)
    return out


def main() -> int:
    mutants = ROOT / "mutants"
    if "--survivors" in sys.argv:  # their names, for ./lane mutate --survivors
        print("\n".join(survivors(mutants)))
        return 0
    per_module = collect(mutants)
    if not per_module:
        print("no mutation results: run ./lane mutate", file=sys.stderr)
        return 1
    total = Counter[str]()
    print(f"{'module':36} {'checked':>8} {'killed':>8} {'share':>7} {'unchecked':>10}")

    def row(name: str, counts: Counter[str]) -> None:
        checked = sum(v for k, v in counts.items() if k not in UNCHECKED)
        killed = sum(counts[k] for k in KILLED)
        unchecked = sum(counts[k] for k in UNCHECKED)
        share = f"{killed / checked:7.1%}" if checked else f"{'–':>7}"
        print(f"{name:36} {checked:8} {killed:8} {share} {unchecked:10}")

    for module, counts in per_module.items():
        if sum(counts.values()):
            row(module, counts)
            total.update(counts)
    row("all", total)
    print("by outcome:", ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    left = survivors(mutants)
    if left and "--diffs" in sys.argv:
        for key in left:
            diff = subprocess.run(
                [sys.executable, "-m", "mutmut", "show", key], cwd=ROOT, capture_output=True, text=True
            ).stdout
            print(f"\n# {key}\n" + "\n".join(x for x in diff.splitlines() if x[:1] in "+-"))
    elif left:
        print(f"\nsurvivors ({len(left)}; ./lane mutate --report --diffs shows each change):")
        for key in left:
            print(f"  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
