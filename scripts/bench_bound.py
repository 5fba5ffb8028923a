"""What bounds a decision's latency on this machine: the arithmetic of the tokens it reads.

A constrained decision reads its prompt's new tokens (prefill) and then decodes a
handful; on a CPU the prefill is most of it, and prefill is matrix products. So
the floor is (FLOPs of the fed tokens) / (the machine's matrix-product speed).
This script measures both sides in one run and prints how far the speed goal
(`--goal-ms`, issue 11: decide p50 <= 150 ms) is from that floor:

1. FLOPs per token of the default model at a given context, counted from its
   config: 2 x every decoder linear weight, plus the attention scores and the
   weighted sum (2 x 2 x context x heads x head_dim per layer). The output layer
   is not counted: a decision computes a few of its rows (webagent/models/head.py).
2. The machine's speed, per dtype and thread count: a large square matrix
   product (near the ceiling torch reaches here), and the model's own decoder
   reading `--fed` new tokens after `--prompt - --fed` cached ones (what a
   decision with prefix reuse does).
3. The floor in ms for a decision that feeds `--fed` tokens, for the whole
   prompt (no reuse), and how many fed tokens would fit in the goal at the
   ceiling.

    python scripts/bench_bound.py --out results/bound.json
    python scripts/bench_bound.py --from-latency results/latency_avx2.json   # its token counts

The token counts default to those of the last latency run (`--from-latency`).
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


def flops_per_token(config: dict, context: int) -> float:
    """Forward FLOPs of one token at position `context` of a Llama-style decoder (no output layer)."""
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    kv = config.get("num_key_value_heads", heads) * head_dim
    inter = config["intermediate_size"]
    linear = hidden * heads * head_dim + 2 * hidden * kv + heads * head_dim * hidden + 3 * hidden * inter
    attention = 2 * 2 * context * heads * head_dim
    return config["num_hidden_layers"] * (2 * linear + attention)


def prefill_flops(config: dict, start: int, end: int) -> float:
    """FLOPs of reading tokens start..end-1 with the first `start` cached."""
    return sum(flops_per_token(config, position) for position in range(start, end))


def _best_seconds(run, repeats: int) -> float:
    run()  # warm: kernels chosen, buffers allocated
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(dtype, size: int = 1024, repeats: int = 10) -> float:
    import torch

    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    return 2 * size**3 / _best_seconds(lambda: a @ b, repeats) / 1e9


def decoder_seconds(lm, prompt: int, fed: int, repeats: int = 3) -> float:
    """Best time for the decoder to read `fed` new tokens after `prompt - fed` cached ones."""
    import copy

    import torch

    body = lm.get_decoder()
    ids = torch.randint(100, 40000, (1, prompt))
    with torch.inference_mode():
        cached = body(input_ids=ids[:, : prompt - fed], use_cache=True).past_key_values if prompt > fed else None

        def run():
            past = copy.deepcopy(cached) if cached is not None else None
            body(input_ids=ids[:, prompt - fed :], past_key_values=past, use_cache=True)

        return _best_seconds(run, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-latency", type=Path, default=Path("results/latency.json"))
    parser.add_argument("--prompt", type=int, help="prompt tokens per decision (default: the latency run's mean)")
    parser.add_argument("--fed", type=int, help="newly fed tokens per decision (default: the latency run's mean)")
    parser.add_argument("--goal-ms", type=float, default=150.0)
    parser.add_argument("--threads", default="1,2", help="torch thread counts to measure")
    parser.add_argument("--out", type=Path, default=Path("results/bound.json"))
    args = parser.parse_args()
    console = Console()
    if args.prompt is None or args.fed is None:
        try:
            latency = json.loads(args.from_latency.read_text())
            args.prompt = args.prompt or round(latency["prompt_tokens_mean"])
            args.fed = args.fed or round(latency["fed_tokens_mean"])
        except (OSError, KeyError, ValueError) as exc:
            console.print(f"[red]error:[/red] no token counts: give --prompt and --fed, or a latency run ({exc})")
            return 2
    if not 0 < args.fed <= args.prompt:
        console.print(f"[red]error:[/red] need 0 < fed <= prompt, not fed {args.fed}, prompt {args.prompt}")
        return 2
    threads = [int(t) for t in args.threads.split(",")]

    import torch

    import webagent.models.transformers_lm  # noqa: F401 - quiets transformers' past_key_values notice
    from webagent.models.loading import load
    from webagent.models.numerics import cpu_has_bf16

    name, _, lm = load("default", dtype="float32", adapter="default")
    config = lm.config.to_dict()
    linear = sum(m.weight.numel() for m in lm.get_decoder().modules() if isinstance(m, torch.nn.Linear))
    if flops_per_token(config, 0) != 2 * linear:  # the count from the config must be the model's own
        console.print(f"[red]error:[/red] the FLOP count does not fit {name}'s {linear:,} decoder linear weights")
        return 1
    fed_flops = prefill_flops(config, args.prompt - args.fed, args.prompt)
    full_flops = prefill_flops(config, 0, args.prompt)
    dtypes = ["float32"] + (["bfloat16"] if cpu_has_bf16() else [])
    rows = []
    for dtype in dtypes:
        model = lm.to(getattr(torch, dtype))
        for n in threads:
            torch.set_num_threads(n)
            ceiling = matmul_gflops(getattr(torch, dtype))
            seconds = decoder_seconds(model, args.prompt, args.fed)
            rows.append(
                {
                    "dtype": dtype,
                    "threads": n,
                    "matmul_gflops": ceiling,
                    "decoder_fed_ms": 1000 * seconds,
                    "decoder_gflops": fed_flops / seconds / 1e9,
                    "floor_fed_ms": 1000 * fed_flops / (ceiling * 1e9),
                    "floor_full_prompt_ms": 1000 * full_flops / (ceiling * 1e9),
                    "fed_tokens_within_goal_at_ceiling": int(
                        args.goal_ms / 1000 * ceiling * 1e9 / flops_per_token(config, args.prompt)
                    ),
                }
            )
    result = {
        "machine": platform.processor() or platform.machine(),
        "model": name,
        "cpu_has_native_bf16": cpu_has_bf16(),
        "prompt_tokens": args.prompt,
        "fed_tokens": args.fed,
        "gflop_per_decision_fed": fed_flops / 1e9,
        "gflop_per_decision_full_prompt": full_flops / 1e9,
        "goal_ms": args.goal_ms,
        "rows": rows,
    }
    table = Table(
        title=f"{name}: {args.fed} of {args.prompt} prompt tokens fed = {fed_flops / 1e9:.1f} GFLOP "
        f"(whole prompt {full_flops / 1e9:.1f}); goal {args.goal_ms:.0f} ms"
    )
    columns = ("dtype", "threads", "matmul GFLOP/s", "decoder ms", "decoder GFLOP/s", "floor ms", "fits in goal")
    for col in columns:
        table.add_column(col, justify="left" if col == "dtype" else "right")
    for row in rows:
        table.add_row(
            row["dtype"],
            str(row["threads"]),
            f"{row['matmul_gflops']:.0f}",
            f"{row['decoder_fed_ms']:.0f}",
            f"{row['decoder_gflops']:.0f}",
            f"{row['floor_fed_ms']:.0f}",
            f"{row['fed_tokens_within_goal_at_ceiling']} tokens",
        )
    console.print(table)
    console.print(
        "floor ms: the fed tokens' FLOPs at the matrix-product ceiling; fits in goal: "
        "fed tokens whose FLOPs the ceiling computes within the goal"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
