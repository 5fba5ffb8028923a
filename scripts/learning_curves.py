"""Rebuild the learning curves (JSON + PNG) of a `webagent learn` run from its store,
e.g. one that was stopped before it wrote them.

    python scripts/learning_curves.py --db /tmp/learn.db --run 1 --out results/learning/memory
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from webagent.learning.driver import curves_from_store
from webagent.learning.plots import plot_curves
from webagent.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--run", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.png")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    results = curves_from_store(Store(args.db), args.run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    plot_curves(results, args.out.with_suffix(".png"), title=args.title)
    print(f"{'task':<22} {'evals (episodes: success)':<50} interventions first/last 10")
    for task, curve in results["tasks"].items():
        evals = ", ".join(f"{p['episodes']}: {p['success_rate']:.0%}" for p in curve["evals"])
        row = results["summary"]["tasks"][task]
        print(f"{task:<22} {evals:<50} {row['interventions_first10']:.2f} / {row['interventions_last10']:.2f}")
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
