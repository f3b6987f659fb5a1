"""The kill rate of the last `make mutate`, per file, and the mutants that were not killed.

mutmut keeps one verdict per mutant in mutants/<file>.meta; this reads them (with mutmut's own
table of exit codes) and prints what docs/testing.md reports. A mutant counts as killed when a
test failed on it or it ran past its time limit; "no tests" means no selected test calls the
mutated function.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
FILES = ("engine/network.py", "engine/activations.py", "engine/losses.py")
DETECTED = {"killed", "timeout"}
ROW = "{:24} {:>7} {:>9} {:>9} {:>6} {:>6}  {}"


def verdicts(path: str) -> dict[str, str]:
    meta = ROOT / "mutants" / f"{path}.meta"
    if not meta.exists():
        sys.exit(f"{meta.relative_to(ROOT)} is missing: run `make mutate` first")
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def main() -> None:
    by_file = {path: verdicts(path) for path in FILES}
    print(ROW.format("file", "killed", "survived", "no tests", "other", "total", "kill rate"))
    totals: Counter[str] = Counter()
    for path, found in by_file.items():
        counts = Counter("killed" if v in DETECTED else v for v in found.values())
        totals += counts
        _row(path, counts, len(found))
    _row("total", totals, sum(len(found) for found in by_file.values()))
    print("\nnot killed:")
    for found in by_file.values():
        for name, verdict in found.items():
            if verdict not in DETECTED:
                print(f"  {name}: {verdict}")
    print("\n`.venv/bin/mutmut show NAME` prints a mutant's diff.")


def _row(label: str, counts: Counter[str], total: int) -> None:
    killed, survived, untested = counts["killed"], counts["survived"], counts["no tests"]
    other = total - killed - survived - untested
    rate = f"{100 * killed / total:.1f}%" if total else "-"
    print(ROW.format(label, killed, survived, untested, other, total, rate))


if __name__ == "__main__":
    main()
