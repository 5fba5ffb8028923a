"""Observe + rank on a big page (5,000 elements), step by step as an episode sees
it, against the way it was done before, in the same run. Prints a table, writes JSON.

    python scripts/bench_bigpage.py --elements 5000 --steps 6 --out results/bigpage.json

The page is generated (a table of rows with a link, a button and a text field
each, plus one element the instruction names) and served on 127.0.0.1. An
"episode" is `--steps` steps on it: each step observes the page, ranks it, and
types into one of its fields (so the page changes a little between steps, as
it does when an agent works on it). Step 1 of an episode meets the page's
texts for the first time; later steps find most of them embedded already.

Two ways, on the same page, one after the other:

- current: the snapshot crosses from the page as one string of lines, in which a
  record the reader already holds is only its id (the places always cross), and
  only the `SEMANTIC_LIMIT` elements best by BM25 and the prior are embedded;
- baseline: the snapshot crosses as an object (Playwright's value serialiser,
  as before), and every element is embedded (the ranker before the cap).

Both share the embedding cache across the steps of their episode and start
with an empty one.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def page_html(n: int) -> str:
    rows = []
    for i in range(n // 3):
        rows.append(
            f"<tr><td><a href='/item/{i}'>item {i}</a></td><td><button>Edit {i}</button></td>"
            f"<td><input name='note{i}' placeholder='note for {i}'></td></tr>"
        )
    return (
        "<!doctype html><title>big</title><h1>Inventory</h1>"
        "<button id='export'>Export spreadsheet</button><table>" + "".join(rows) + "</table>"
    )


def _observe_as_object(page):
    """The snapshot returned as an object, through Playwright's serialiser (the old path)."""
    from webagent.browser.observation import Observation, cleaned_html, element_from_snapshot
    from webagent.browser.observe import snapshot_script

    script = snapshot_script()
    raw = page.evaluate(  # the records as objects again, box and viewport inside (as before)
        f"(args) => {{ const [head, ...lines] = ({script})(args).split('\\n'); const o = JSON.parse(head);"
        " o.elements = lines.map((l) => { const [rec, place] = l.split('\\t'); const r = JSON.parse(rec);"
        " const p = place.split(','); r.box = p.slice(0, 4).map(Number); if (p[4]) r.viewport = p[4];"
        " return r; }); return o; }",
        {"maxText": 200},
    )
    elements = tuple(element_from_snapshot(r) for r in raw["elements"])
    return Observation(url=raw["url"], title=raw["title"], elements=elements, html=cleaned_html(elements))


def _type_note(page, step: int) -> None:
    page.fill(f"input[name='note{step * 7}']", f"checked {step}")


def episode(session, ranker, observe_fn, steps: int, instruction: str) -> tuple[list[dict], str]:
    """Per step: observe, rank and their sum in ms; and the top-1 of the last step."""
    rows, history, top = [], [], ""
    for step in range(steps):
        start = time.perf_counter()
        observation = session.call(observe_fn)
        observed = time.perf_counter()
        ranked = ranker.rank(instruction, observation, history, k=10)
        ranked_at = time.perf_counter()
        rows.append(
            {
                "observe_ms": 1000 * (observed - start),
                "rank_ms": 1000 * (ranked_at - observed),
                "total_ms": 1000 * (ranked_at - start),
                "elements": len(observation.actionable),
            }
        )
        top = ranked[0].element.describe()
        session.call(_type_note, step)
        history.append(f'TYPE [{step}] "checked {step}"')
    return rows, top


def summary(rows: list[dict]) -> dict:
    later = rows[1:] or rows
    keys = ("observe_ms", "rank_ms", "total_ms")
    return {
        "first_step": {k: round(rows[0][k], 1) for k in keys},
        "later_steps_p50": {k: round(statistics.median(r[k] for r in later), 1) for k in keys},
        "all_steps_p50": {k: round(statistics.median(r[k] for r in rows), 1) for k in keys},
        "steps": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=6, help="steps of each episode on the page")
    parser.add_argument("--out", type=Path, default=Path("results/bigpage.json"))
    args = parser.parse_args()
    console = Console()

    from webagent.browser.observe import observe
    from webagent.browser.session import BrowserSession
    from webagent.candidates import SEMANTIC_LIMIT, HybridRanker
    from webagent.embeddings import Embedder

    folder = Path(tempfile.mkdtemp())
    (folder / "big.html").write_text(page_html(args.elements))
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/big.html"
    instruction = "Export the spreadsheet"
    results: dict = {"elements_requested": args.elements, "steps": args.steps, "semantic_limit": SEMANTIC_LIMIT}
    embedder = Embedder()
    ways = {
        "current": (observe, HybridRanker(embedder)),
        "baseline": (_observe_as_object, HybridRanker(embedder, semantic_limit=10**9)),
    }
    with BrowserSession() as session:
        for name, (observe_fn, ranker) in ways.items():
            session.goto(url)  # a fresh copy of the page, fields empty
            session.call(observe)  # the first snapshot also tags every element with its id: not what a step pays
            embedder.clear()
            rows, top = episode(session, ranker, observe_fn, args.steps, instruction)
            results[name] = {**summary(rows), "top1": top}
            results["elements"] = rows[0]["elements"]
    httpd.shutdown()
    current, baseline = results["current"], results["baseline"]
    results["speedup_all_steps_p50"] = baseline["all_steps_p50"]["total_ms"] / current["all_steps_p50"]["total_ms"]
    results["speedup_first_step"] = baseline["first_step"]["total_ms"] / current["first_step"]["total_ms"]
    results["goal_observe_plus_rank_p50_ms"] = 300
    results["observe_plus_rank_p50_ms"] = current["all_steps_p50"]["total_ms"]

    table = Table(title=f"A page of {results['elements']} actionable elements, {args.steps} steps")
    for col in ("way", "step", "observe ms", "rank ms", "observe + rank ms"):
        table.add_column(col)
    for name in ways:
        for label, key in (("first", "first_step"), ("later p50", "later_steps_p50"), ("all p50", "all_steps_p50")):
            row = results[name][key]
            table.add_row(name, label, f"{row['observe_ms']:.0f}", f"{row['rank_ms']:.0f}", f"{row['total_ms']:.0f}")
    console.print(table)
    console.print(
        f"top-1: current {current['top1']!r}, baseline {baseline['top1']!r}; "
        f"speed-up, p50 of all steps: {results['speedup_all_steps_p50']:.1f}x, first step: "
        f"{results['speedup_first_step']:.1f}x"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
