"""The mutation report of ``./lane mutate``: the share of mutants the tests killed, module by module,
and the survivors with their diffs (issue #7). mutmut writes one ``.meta`` file per mutated module
under ``mutants/``; its exit codes say what became of each mutant.

A timeout counts as killed (the mutant hung the code: a test noticed); "no tests" counts as
survived (no test even reached it)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


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
            if status_by_exit_code[code] not in KILLED:
                out.append(key)
    return out


def main() -> int:
    mutants = ROOT / "mutants"
    per_module = collect(mutants)
    if not per_module:
        print("no mutation results: run ./lane mutate", file=sys.stderr)
        return 1
    total = Counter[str]()
    print(f"{'module':40} {'mutants':>8} {'killed':>8} {'share':>7}")
    for module, counts in per_module.items():
        n = sum(counts.values())
        killed = sum(counts[s] for s in KILLED)
        total.update(counts)
        print(f"{module:40} {n:8} {killed:8} {killed / n:7.1%}" if n else f"{module:40} {0:8}")
    n = sum(total.values())
    killed = sum(total[s] for s in KILLED)
    print(f"{'all':40} {n:8} {killed:8} {killed / max(n, 1):7.1%}")
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
