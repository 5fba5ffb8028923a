"""Per-stage latency of the agent (observe, rank, decide, act; p50 and p95) with
the default model on the MiniWoB++ dev tasks, and in the same run the decision
baseline it replaces. Prints tables, writes JSON.

    python scripts/bench_latency.py --episodes 1 --out results/latency.json
    python scripts/bench_latency.py --from-db results/baselines.db   # stages only, from recorded steps

1. Memory: one oracle-supervised episode per task fills the bench store's
   exemplar memory, so decisions read prompts with 3 shots, as a user's do.
2. Live: episodes with the default settings (dtype auto, one thread, prompt-prefix
   reuse) but procedures off, so that every step is a model decision; every
   decision's (prompt, grammar) is recorded.
3. Same prompts, in the same order, interleaved: the current model; the same
   model reading every prompt in full (prefix reuse must not change a decision);
   and the baseline (float32, no prefix reuse), timing `generate` alone. How
   often the current decisions equal the baseline's is the bfloat16 agreement
   (the goal: at least 98%; on a CPU without native bf16 `auto` is float32).

The act stage's own baseline (Playwright's locator click, the fixed settle) is
`scripts/bench_act.py`; the big-page observe and rank is `scripts/bench_bigpage.py`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from webagent.envs.miniwob import DEV_TASKS_FILE

STAGES = ("observe", "rank", "decide", "act")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def stage_summary(steps: list[dict]) -> dict:
    summary = {}
    for stage in (*STAGES, "total"):
        values = [sum(s.get(k, 0.0) for k in STAGES) if stage == "total" else s.get(stage, 0.0) for s in steps if s]
        summary[stage] = {
            "p50_ms": 1000 * percentile(values, 50),
            "p95_ms": 1000 * percentile(values, 95),
            "mean_ms": 1000 * sum(values) / max(len(values), 1),
        }
    return summary


def replay(models: list, calls: list[tuple[str, str]]) -> list[list[dict]]:
    """Each recorded decision again, in order, on each model in turn (interleaved, so a
    change in the machine's load hits all alike): text, seconds, prompt and fed tokens."""
    for model in models:
        model.prefix.clear()
    out: list[list[dict]] = [[] for _ in models]
    for prompt, grammar in calls:
        for model, rows in zip(models, out, strict=True):
            start = time.perf_counter()
            generation = model.generate(prompt, grammar)
            rows.append(
                {
                    "text": generation.text,
                    "seconds": time.perf_counter() - start,
                    "prompt_tokens": generation.prompt_tokens,
                    "fed_tokens": generation.fed_prompt_tokens,
                }
            )
    return out


def _token_summary(pairs: list[tuple[int, int]]) -> dict:
    """Prompt and fed tokens per decision of the live run, as its steps recorded them."""
    n = max(len(pairs), 1)
    return {
        "decisions": len(pairs),
        "prompt_mean": sum(p for p, _ in pairs) / n,
        "fed_mean": sum(f for _, f in pairs) / n,
        "fed_p50": percentile([f for _, f in pairs], 50),
    }


def ms(rows: list[dict], q: float) -> float:
    return 1000 * percentile([r["seconds"] for r in rows], q)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks-file", type=Path, default=DEV_TASKS_FILE)
    parser.add_argument("--episodes", type=int, default=2, help="per task: later episodes meet cached prefixes")
    parser.add_argument("--memory-episodes", type=int, default=1, help="oracle-supervised episodes per task first")
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--from-db", type=Path, help="only the stage table, from model runs recorded in this store")
    parser.add_argument("--db", type=Path, default=Path("results/latency.db"))
    parser.add_argument("--out", type=Path, default=Path("results/latency.json"))
    args = parser.parse_args()
    console = Console()
    from webagent.store import Store

    result: dict = {"machine": platform.processor() or platform.machine()}
    if args.from_db:
        steps = Store(args.from_db).step_latencies(policy="model")
        result.update(steps=len(steps), stages=stage_summary(steps))
    else:
        from webagent.envs.miniwob import read_task_names
        from webagent.models.numerics import cpu_has_bf16
        from webagent.models.transformers_lm import TransformersModel
        from webagent.progress import RichReporter
        from webagent.runs import run_miniwob
        from webagent.settings import AgentSettings, LoopSettings, MemorySettings, ModelSettings
        from webagent.supervision import check_oracles

        tasks = read_task_names(args.tasks_file)
        args.db.unlink(missing_ok=True)
        store = Store(args.db)
        loop = LoopSettings(max_steps=args.max_steps)
        # Procedures off: every step is then the model's decision, with 3 shots from memory, which
        # is what this measures (with them, most steps here replay a ranker episode without the model).
        memory = MemorySettings(procedures=False)
        model_settings = ModelSettings(name=args.model, threads=args.threads)
        settings = AgentSettings(model=model_settings, memory=memory, loop=loop, seed=1000)
        if args.memory_episodes:
            check_oracles(tasks)
            teach = AgentSettings(policy="ranker", supervisor="oracle", loop=loop, seed=2000)
            console.print(f"[b]1. memory[/b]: {args.memory_episodes} oracle-supervised episode(s) per task")
            run_miniwob(tasks, teach, episodes=args.memory_episodes, store=store, reporter=RichReporter(console))
        exemplars = store.exemplar_count()

        model = TransformersModel(args.model, threads=args.threads)  # dtype auto, prefix reuse
        calls: list[tuple[str, str]] = []
        generate = model.generate

        def recording(prompt, grammar, **kw):
            calls.append((prompt, grammar))
            return generate(prompt, grammar, **kw)

        model.generate = recording
        console.print(f"[b]2. live[/b]: {model.dtype}, {model.threads} thread(s), {exemplars} exemplars in memory")
        live = run_miniwob(
            tasks, settings, episodes=args.episodes, store=store, reporter=RichReporter(console), model=model
        )
        del model.generate
        steps = store.step_latencies(policy="model", run_id=live["run_id"])
        console.print(f"[b]3. the same {len(calls)} decisions again[/b]: current, full reads, float32 baseline")
        full_read = TransformersModel(args.model, dtype=model.dtype, threads=args.threads, prefix_entries=0)
        baseline_model = TransformersModel(args.model, dtype="float32", threads=args.threads, prefix_entries=0)
        current, full, baseline = replay([model, full_read, baseline_model], calls)
        same_as_full = sum(a["text"] == b["text"] for a, b in zip(current, full, strict=True))
        agree = sum(a["text"] == b["text"] for a, b in zip(current, baseline, strict=True))
        result.update(
            steps=len(steps),
            stages=stage_summary(steps),
            live_success=live["mean_success_rate"],
            exemplars=exemplars,
            settings={"dtype": model.dtype, "threads": model.threads, "prefix_entries": model.prefix.entries},
            decisions=len(calls),
            decide_generate={
                "current": {"p50_ms": ms(current, 50), "p95_ms": ms(current, 95)},
                f"{model.dtype}_no_reuse": {"p50_ms": ms(full, 50), "p95_ms": ms(full, 95)},
                "baseline_float32_no_reuse": {"p50_ms": ms(baseline, 50), "p95_ms": ms(baseline, 95)},
            },
            decide_speedup_vs_baseline=ms(baseline, 50) / max(ms(current, 50), 1e-9),
            reuse_outputs_equal_to_full_reads=f"{same_as_full}/{len(calls)}",
            outputs_equal_to_baseline=f"{agree}/{len(calls)}",
            prompt_tokens_mean=sum(r["prompt_tokens"] for r in current) / max(len(current), 1),
            fed_tokens_mean=sum(r["fed_tokens"] for r in current) / max(len(current), 1),
            live_tokens_per_decision=_token_summary(store.decision_tokens(live["run_id"])),
            bf16={"cpu_has_native_bf16": cpu_has_bf16(), "agreement_with_float32": agree / max(len(calls), 1)},
        )

    table = Table(title=f"Per-stage latency, {result['steps']} steps, {result['machine']}")
    for col in ("stage", "p50 ms", "p95 ms", "mean ms"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for stage, row in result["stages"].items():
        table.add_row(stage, f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}", f"{row['mean_ms']:.0f}")
    console.print(table)
    if "decide_generate" in result:
        table = Table(title=f"One decision (generate), the same {result['decisions']} prompts")
        for col in ("configuration", "p50 ms", "p95 ms"):
            table.add_column(col)
        for name, row in result["decide_generate"].items():
            table.add_row(name, f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}")
        console.print(table)
        console.print(
            f"speedup {result['decide_speedup_vs_baseline']:.2f}×; "
            f"reuse against full reads: {result['reuse_outputs_equal_to_full_reads']} equal; "
            f"against the float32 baseline: {result['outputs_equal_to_baseline']} equal; "
            f"prompt {result['prompt_tokens_mean']:.0f} tokens, fed {result['fed_tokens_mean']:.0f} per decision"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
