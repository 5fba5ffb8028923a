"""Decoding benchmark: plain constrained decoding against its variants, per decision.

Workloads: the action DSL (ModelPolicy prompts on realistic pages, the per-step
action grammar) and JSON-schema output through `webagent.online.Online`.
Modes: plain (jump-forward on), plain without jump-forward, speculative with a
self-draft of L layers proposing K tokens per target pass, speculative with the
prompt-lookup draft (no draft model), and SMC with N particles. Modes run
round-robin per decision so that load from other processes on the machine falls
on all of them alike; medians are reported.

Greedy speculative output must equal plain greedy output (checked here on
every decision). SMC targets a different distribution on purpose (the model
conditioned on the grammar), so its outputs are compared, not required equal.

    python scripts/bench_decoding.py                       # the full table (~15 min on 2 idle cores)
    python scripts/bench_decoding.py --decisions 2 --repeats 1 --layers 8 --ks 4   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from webagent.actions import action_grammar
from webagent.browser.observation import Element, Observation
from webagent.candidates import Candidate
from webagent.policy import ModelPolicy

ROOT = Path(__file__).resolve().parent.parent


def _button(i, text, tag="button"):
    return Element(str(i), tag, text=text, interactive=True)


def _field(i, label, input_type="text"):
    return Element(str(i), "input", label=label, input_type=input_type, editable=True, interactive=True)


PAGES = [
    (
        "Log in with username kasie and password hunter2.",
        [
            _field(4, "Username"),
            _field(7, "Password", "password"),
            _button(9, "Login"),
            _button(12, "Forgot password?", "a"),
        ],
    ),
    (
        'Search for "wireless headphones" and press the search button.',
        [_field(3, "Search products"), _button(5, "Search"), _button(11, "Cart", "a"), _button(14, "Deals", "a")]
        + [_button(20 + i, w, "a") for i, w in enumerate(["Electronics", "Books", "Garden", "Toys", "Sports"])],
    ),
    (
        "Select Canada from the country list and continue.",
        [
            Element(
                "6",
                "select",
                label="Country",
                options=("France", "Canada", "Japan", "Brazil", "Kenya"),
                interactive=True,
            ),
            _button(8, "Continue"),
            _button(10, "Back"),
            _field(13, "Postal code"),
        ],
    ),
    (
        "Click on the link to the third article.",
        [
            _button(30 + i, f"Article {i + 1}: {t}", "a")
            for i, t in enumerate(["Markets rally", "Rain due", "New park", "Tech layoffs", "Cup final", "Recipes"])
        ],
    ),
    (
        'Enter "Meet at 5pm by the north gate" in the message box and send it.',
        [
            _field(2, "To"),
            _field(3, "Subject"),
            Element("5", "textarea", label="Message", editable=True, interactive=True),
            _button(8, "Send"),
            _button(9, "Discard"),
        ],
    ),
    (
        "Choose the Medium size and add the shirt to the cart.",
        [
            Element("15", "select", label="Size", options=("Small", "Medium", "Large", "X-Large"), interactive=True),
            Element("16", "select", label="Colour", options=("Red", "Blue", "Black"), interactive=True),
            _button(18, "Add to cart"),
            _button(19, "Save for later"),
            _field(21, "Quantity", "number"),
        ],
    ),
]

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer"},
        "city": {"type": "string", "maxLength": 40},
        "interests": {"type": "array", "items": {"type": "string", "maxLength": 24}, "maxItems": 3},
    },
    "required": ["name", "age", "city", "interests"],
    "additionalProperties": False,
}

JSON_PROMPTS = [
    "Extract the person: Maria Lopez is 34, lives in Valencia and loves sailing, chess and jazz.",
    "Extract the person: Tom, 61, a retired teacher from Leeds who enjoys gardening and birdwatching.",
    "Extract the person: Our new intern Aiko Tanaka (22) moved from Osaka; she plays volleyball.",
    "Extract the person: Dr. Samuel Okafor, aged 45, Lagos. Hobbies: running, photography.",
    "Extract the person: Lena is a 29-year-old designer in Berlin into climbing and ceramics.",
    "Extract the person: Carlos Mendes, 52, from Porto, likes football, wine and history books.",
]


def action_workload(model, n: int):
    policy = ModelPolicy(model)
    items = []
    for instruction, elements in PAGES[:n]:
        observation = Observation(url="http://127.0.0.1/page", title="Page", elements=tuple(elements))
        candidates = [Candidate(el, 1.0 - 0.05 * i) for i, el in enumerate(elements)]
        prompt = policy.prompt(instruction, observation, candidates, [])
        items.append((instruction, prompt, action_grammar(elements)))
    return items


def mask_seconds_per_step(model, prompt_grammar: list[tuple[str, str]]) -> float:
    """What the grammar costs per model step, timed on a replay of plain greedy decoding's
    own tokens: fast-forward check, mask fill, mask applied to the logits, consume."""
    import llguidance
    import llguidance.torch as llt
    import torch

    from webagent.models.constrained import constrained_generate

    decoder = model._decoder
    bitmask = llt.allocate_token_bitmask(1, decoder.vocab_size)
    logits = torch.zeros(decoder.vocab_size)
    total, steps = 0.0, 0
    prompt_tokens: dict[str, list[int]] = {}
    for rep in range(2):  # the first pass warms up (the mask kernel compiles per shape)
        for prompt, grammar in prompt_grammar:
            tokens, _ = (
                constrained_generate(
                    decoder, model._encode(prompt), grammar, temperature=0.0, generator=None, max_tokens=256
                )
                if rep == 0
                else (prompt_tokens[prompt], None)
            )
            prompt_tokens[prompt] = tokens
            matcher = llguidance.LLMatcher(decoder.ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar))
            i = 0
            while i < len(tokens):
                start = time.perf_counter()
                forced = matcher.compute_ff_tokens()
                if forced:
                    matcher.consume_tokens(forced)
                    i += len(forced)
                else:
                    llt.fill_next_token_bitmask(matcher, bitmask, 0)
                    llt.apply_token_bitmask_inplace(logits, bitmask[0])
                    matcher.consume_token(tokens[i])
                    i += 1
                    steps += rep
                if rep:
                    total += time.perf_counter() - start
    return total / max(steps, 1)


def step_seconds(model, prompt: str, steps: int = 6) -> float:
    """The median time of one cached single-token forward pass after `prompt`."""
    import torch

    ids = model._encode(prompt)
    times = []
    with torch.inference_mode():
        past = model.model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1).past_key_values
        for _ in range(steps):
            start = time.perf_counter()
            past = model.model(
                input_ids=torch.tensor([[ids[-1]]]), past_key_values=past, use_cache=True, logits_to_keep=1
            ).past_key_values
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_ms_by_tokens_fed(model, prompt: str, sizes=(1, 2, 3, 5, 7, 9), reps: int = 5) -> dict[int, float]:
    """Cost of one cached forward pass as a function of how many tokens it feeds: speculative
    decoding pays off only where verifying K+1 tokens costs about as much as one."""
    import torch

    ids = model._encode(prompt)
    out: dict[int, float] = {}
    with torch.inference_mode():
        past = model.model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1).past_key_values
        for size in sizes:
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                model.model(input_ids=torch.tensor([ids[-size:]]), past_key_values=past, use_cache=True)
                times.append(time.perf_counter() - start)
                past.crop(-size)
            out[size] = 1000 * statistics.median(times)
    return out


def prefill_seconds(model, prompt: str) -> float:
    import torch

    ids = torch.tensor([model._encode(prompt)])
    with torch.inference_mode():
        start = time.perf_counter()
        model.model(input_ids=ids, logits_to_keep=1)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=6, help="decisions per workload (at most 6)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--layers", default="4,8,14", help="self-draft depths to try")
    parser.add_argument("--ks", default="2,4,6", help="drafted tokens per target pass")
    parser.add_argument("--lookup-ks", default="4,8", help="drafted tokens per pass for the prompt-lookup draft")
    parser.add_argument("--particles", default="4,8")
    parser.add_argument("--workloads", default="action,json")
    parser.add_argument("--json-decisions", type=int, default=None, help="decisions for the JSON workload")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "decoding.json")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from webagent.models.transformers_lm import TransformersModel
    from webagent.online import Online
    from webagent.store import Store

    base = TransformersModel("default")
    modes = {"plain": base, "no-jump-forward": base.with_decoding("plain", jump_forward=False)}
    for layers in [int(x) for x in args.layers.split(",")]:
        for k in [int(x) for x in args.ks.split(",")]:
            modes[f"spec-L{layers}-K{k}"] = base.with_decoding(
                "speculative", draft="self", draft_layers=layers, draft_k=k
            )
    for k in [int(x) for x in args.lookup_ks.split(",") if x]:
        modes[f"lookup-K{k}"] = base.with_decoding("speculative", draft="lookup", draft_k=k)
    for n in [int(x) for x in args.particles.split(",")]:
        modes[f"smc-N{n}"] = base.with_decoding("smc", particles=n)

    tmp = Path(tempfile.mkdtemp(prefix="bench-decoding-"))
    store = Store(tmp / "bench.db")
    onlines = {name: Online(SCHEMA, lm, store=store, memory=False) for name, lm in modes.items()}
    workloads: dict[str, list[tuple[str, str]]] = {}
    if "action" in args.workloads:
        workloads["action"] = [(prompt, grammar) for _, prompt, grammar in action_workload(base, args.decisions)]
    if "json" in args.workloads:
        plain_online = onlines["plain"]
        workloads["json"] = [
            (plain_online._prompt(text), plain_online.grammar)
            for text in JSON_PROMPTS[: args.json_decisions or args.decisions]
        ]

    load_before = os.getloadavg()
    rows: dict[str, dict[str, list[dict]]] = {w: {m: [] for m in modes} for w in workloads}
    prefill: dict[str, list[float]] = {w: [] for w in workloads}
    step: dict[str, list[float]] = {w: [] for w in workloads}
    started = time.perf_counter()
    for workload, items in workloads.items():
        for index, (prompt, grammar) in enumerate(items):
            for rep in range(args.repeats):
                prefill[workload].append(prefill_seconds(base, prompt))
                step[workload].append(step_seconds(base, prompt))
                order = list(modes) if rep % 2 == 0 else list(reversed(modes))
                for name in order:
                    lm = modes[name]
                    start, cpu = time.perf_counter(), time.process_time()
                    if workload == "json":
                        onlines[name].generate(JSON_PROMPTS[index])
                        generation = onlines[name].last.generation
                    else:
                        generation = lm.generate(prompt, grammar)
                    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                    rows[workload][name].append(
                        {
                            "decision": index,
                            "wall_s": wall,
                            "cpu_s": cpu,
                            "text": generation.text,
                            "tokens": generation.tokens,
                            "forced": generation.forced_tokens,
                            "forward_calls": generation.forward_calls,
                            "drafted": generation.drafted,
                            "accepted": generation.accepted,
                            "draft_calls": generation.draft_calls,
                            "agreement": generation.agreement,
                        }
                    )
            plain_text = rows[workload]["plain"][-1]["text"]
            print(f"{workload} decision {index}: plain -> {plain_text!r}", flush=True)

    summary: dict[str, dict] = {}
    for workload in workloads:
        mask_step = mask_seconds_per_step(base, workloads[workload])
        plain_rows = rows[workload]["plain"]
        plain_latency = statistics.median(r["wall_s"] for r in plain_rows)
        median_prefill = statistics.median(prefill[workload])
        per_step = statistics.median(step[workload])
        summary[workload] = {
            "prefill_s_median": median_prefill,
            "mask_ms_per_model_step": mask_step * 1000,
            "prefill_share_of_plain_latency": median_prefill / plain_latency,
            "model_step_ms_median": per_step * 1000,
            "forward_ms_by_tokens_fed": forward_ms_by_tokens_fed(base, workloads[workload][0][0]),
            "mask_overhead_pct": 100 * mask_step / (per_step + mask_step),
            "modes": {},
        }
        for name, mode_rows in rows[workload].items():
            latency = statistics.median(r["wall_s"] for r in mode_rows)
            total_wall = sum(r["wall_s"] for r in mode_rows)
            tokens = sum(r["tokens"] for r in mode_rows)
            drafted = sum(r["drafted"] for r in mode_rows)
            same = sum(r["text"] == p["text"] for r, p in zip(mode_rows, plain_rows, strict=True))
            summary[workload]["modes"][name] = {
                "latency_s_median": latency,
                "latency_s_p90": sorted(r["wall_s"] for r in mode_rows)[int(0.9 * (len(mode_rows) - 1))],
                "cpu_s_median": statistics.median(r["cpu_s"] for r in mode_rows),
                "tokens_per_s": tokens / total_wall,
                "speedup_vs_plain": plain_latency / latency,
                "tokens_per_decision": tokens / len(mode_rows),
                "forward_calls_per_decision": sum(r["forward_calls"] for r in mode_rows) / len(mode_rows),
                "acceptance_rate": (sum(r["accepted"] for r in mode_rows) / drafted) if drafted else None,
                "same_text_as_plain": f"{same}/{len(mode_rows)}",
                "mean_agreement": (
                    statistics.fmean(r["agreement"] for r in mode_rows)
                    if mode_rows[0]["agreement"] is not None
                    else None
                ),
            }

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "model": base.version,
        "settings": vars(args) | {"out": str(args.out)},
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(summary)
    print(f"load average before {load_before}, after {os.getloadavg()}; wrote {args.out}")


def print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    for workload, data in summary.items():
        table = Table(
            title=(
                f"{workload}: prefill {data['prefill_s_median'] * 1000:.0f} ms "
                f"({data['prefill_share_of_plain_latency']:.0%} of plain), "
                f"model step {data['model_step_ms_median']:.0f} ms, "
                f"grammar {data['mask_ms_per_model_step']:.2f} ms/step ({data['mask_overhead_pct']:.1f}%)"
            )
        )
        for col in (
            "mode",
            "latency p50",
            "cpu p50",
            "speedup",
            "tok/s",
            "tokens",
            "calls",
            "accept",
            "= plain",
            "agree",
        ):
            table.add_column(col, justify="left" if col == "mode" else "right")
        for name, m in data["modes"].items():
            table.add_row(
                name,
                f"{m['latency_s_median'] * 1000:.0f} ms",
                f"{m['cpu_s_median'] * 1000:.0f} ms",
                f"{m['speedup_vs_plain']:.2f}x",
                f"{m['tokens_per_s']:.1f}",
                f"{m['tokens_per_decision']:.1f}",
                f"{m['forward_calls_per_decision']:.1f}",
                "" if m["acceptance_rate"] is None else f"{m['acceptance_rate']:.0%}",
                m["same_text_as_plain"],
                "" if m["mean_agreement"] is None else f"{m['mean_agreement']:.2f}",
            )
        console.print(table)
        costs = data["forward_ms_by_tokens_fed"]
        console.print(
            "one cached forward pass feeding n tokens: "
            + ", ".join(f"n={n}: {ms:.0f} ms ({ms / costs[1]:.1f}x)" for n, ms in costs.items())
        )


if __name__ == "__main__":
    main()
