"""Observe + rank on a big page (5,000 elements), against the ranker that embeds
every element, in the same run. Prints a table, writes JSON.

    python scripts/bench_bigpage.py --elements 5000 --out results/bigpage.json

The page is generated (a table of rows with a link, a button and a text field
each, plus one element the instruction names) and served on 127.0.0.1.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("results/bigpage.json"))
    args = parser.parse_args()
    console = Console()

    from webagent.browser.observe import observe
    from webagent.browser.session import BrowserSession
    from webagent.candidates import HybridRanker
    from webagent.embeddings import Embedder

    folder = Path(tempfile.mkdtemp())
    (folder / "big.html").write_text(page_html(args.elements))
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/big.html"
    instruction = "Export the spreadsheet"
    results: dict = {"elements_requested": args.elements, "repeats": args.repeats}
    with BrowserSession() as session:
        session.goto(url)
        observe_s, observation = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            observation = session.call(observe)
            observe_s.append(time.perf_counter() - start)
        results["elements"] = len(observation.actionable)
        for name, limit in (("current (embeds the best 256)", None), ("baseline (embeds every element)", 10**9)):
            embedder = Embedder()  # a fresh cache: the first rank of a page pays for its embeddings
            ranker = HybridRanker(embedder) if limit is None else HybridRanker(embedder, semantic_limit=limit)
            times, first = [], None
            for _ in range(args.repeats):
                embedder.clear()
                start = time.perf_counter()
                ranked = ranker.rank(instruction, observation, [], k=10)
                times.append(time.perf_counter() - start)
                first = ranked[0].element.text
            start = time.perf_counter()
            ranker.rank(instruction, observation, ["CLICK [1]"], k=10)  # the next step: texts already embedded
            warm = time.perf_counter() - start
            results[name] = {"rank_p50_ms": 1000 * statistics.median(times), "warm_rank_ms": 1000 * warm, "top1": first}
            if limit is not None:
                break  # once is enough to show the baseline's cost
    httpd.shutdown()
    results["observe_p50_ms"] = 1000 * statistics.median(observe_s)
    current = results["current (embeds the best 256)"]
    results["observe_plus_rank_p50_ms"] = results["observe_p50_ms"] + current["rank_p50_ms"]
    results["observe_plus_warm_rank_ms"] = results["observe_p50_ms"] + current["warm_rank_ms"]
    table = Table(title=f"A page of {results['elements']} actionable elements")
    for col in ("stage", "first rank p50 ms", "next step ms", "top-1"):
        table.add_column(col)
    table.add_row("observe", f"{results['observe_p50_ms']:.0f}", "", "")
    for name in ("current (embeds the best 256)", "baseline (embeds every element)"):
        row = results[name]
        table.add_row(f"rank, {name}", f"{row['rank_p50_ms']:.0f}", f"{row['warm_rank_ms']:.0f}", row["top1"])
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
