"""Run the benchmarks: one JSON object per line on stdout.

Each ``bench/bench_*.py`` defines ``BENCHES = {name: fn}``; ``fn()`` returns
``{"bench", "value", "unit", "baseline", "ratio"}`` (extra keys allowed), with the baseline
measured in the same run on the same machine. ``--only NAME`` runs one benchmark.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIRED = ("bench", "value", "unit", "baseline", "ratio")


def discover() -> dict[str, Callable[[], dict[str, Any]]]:
    found: dict[str, Callable[[], dict[str, Any]]] = {}
    sys.path.insert(0, str(HERE))
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.update(getattr(module, "BENCHES", {}))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run only this benchmark")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    args = parser.parse_args(argv)
    benches = discover()
    if args.list:
        print("\n".join(sorted(benches)))
        return 0
    names = [args.only] if args.only else sorted(benches)
    unknown = [n for n in names if n not in benches]
    if unknown:
        print(f"bench: unknown benchmark {unknown[0]!r}; known: {', '.join(sorted(benches))}",
              file=sys.stderr)
        return 2
    for name in names:
        line = benches[name]()
        missing = [k for k in REQUIRED if k not in line]
        if missing:
            raise SystemExit(f"bench {name}: result lacks {missing}")
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
