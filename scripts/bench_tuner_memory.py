"""Peak memory of the online tuner against inference alone, each in a fresh process.

    python scripts/bench_tuner_memory.py --db results/learning/mezo_head_clip/choose-list.db

The confirmed steps of a `webagent learn` store are the data. Each mode runs in its own
subprocess, loads the default model as a tuned agent does (float32, the shipped
adapter) and reads N of the steps' prompts (one forward pass each, as deciding does);
then, except in `inference`, an `OnlineTuner` on those steps runs one round. The
process's peak RSS (ru_maxrss) is compared with the inference process's:

    inference        the model deciding, no tuner
    head             MeZO on the decision head (head:8), the tuner's shadow sharing the
                     frozen weights with the live model (webagent.learning.params.shadow_copy)
    head-full-copy   the same round with the shadow a full copy of the model (the
                     baseline: how the tuner was built before)
    last:2           MeZO on the last two blocks (Online's default), a full copy

Writes a table and results/tuner_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("inference", "head", "head-full-copy", "last:2")


def child(mode: str, db: Path, n: int, threads: int) -> dict:
    """One measurement (in a fresh process)."""
    import copy
    import tempfile

    import torch

    from webagent.learning import tuner as tuner_module
    from webagent.learning.objective import examples_from_feedback
    from webagent.models.transformers_lm import TransformersModel
    from webagent.store import Store

    rows = [r for r in Store(db, create=False).feedback() if r.get("prompt") and r["kind"] in ("confirm", "correct")]
    rows = rows[:n]
    model = TransformersModel("default", dtype="float32", threads=threads)
    with torch.inference_mode():
        for ex in examples_from_feedback(rows):
            ids = model.tokenizer(ex.prompt, add_special_tokens=False)["input_ids"]
            model.model(torch.tensor([ids]), logits_to_keep=1)
    out = {"mode": mode, "steps": len(rows), "rss_after_inference_mb": _rss_mb()}
    if mode != "inference":
        if mode == "head-full-copy":
            tuner_module.shadow_copy = lambda module, spec: copy.deepcopy(module)
        store = Store(Path(tempfile.mkdtemp()) / "tune.db")
        for r in rows:
            store.add_feedback(
                episode_id=None, step_id=None, kind=r["kind"], proposed=r["proposed"], action=r["action"],
                source="oracle", prompt=r["prompt"],
            )  # fmt: skip
        param_set = "last:2" if mode == "last:2" else "head:8"
        started = time.perf_counter()
        tuner = tuner_module.OnlineTuner(model, store, tuner_module.TunerConfig(param_set=param_set))
        result = tuner.run_round()
        out.update(round_seconds=round(time.perf_counter() - started, 1), kept=bool(result and result.kept))
    out["peak_rss_mb"] = _rss_mb()
    return out


def _rss_mb() -> float:
    """This process's peak resident set so far (ru_maxrss), in MB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a store with confirmed steps (webagent learn)")
    parser.add_argument("--steps", type=int, default=24, help="confirmed steps read and trained on")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "tuner_memory.json")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.db, args.steps, args.threads)))
        return
    if not args.db.exists():
        raise SystemExit(f"error: no store at {args.db}")
    rows = []
    for mode in args.modes.split(","):
        if mode not in MODES:
            raise SystemExit(f"error: unknown mode {mode!r}; choose from {', '.join(MODES)}")
        command = [sys.executable, __file__, "--db", str(args.db), "--steps", str(args.steps)]
        command += ["--threads", str(args.threads), "--child", mode]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"error: mode {mode} failed:\n{done.stderr[-2000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    base = next((r["peak_rss_mb"] for r in rows if r["mode"] == "inference"), None)
    for r in rows:
        r["vs_inference"] = round(r["peak_rss_mb"] / base, 3) if base else None
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"peak RSS of one process, {rows[0]['steps']} confirmed steps")
    for col in ("mode", "peak RSS MB", "x inference", "round s", "kept"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for r in rows:
        table.add_row(
            r["mode"], f"{r['peak_rss_mb']:.0f}", f"{r['vs_inference']:.2f}" if r["vs_inference"] else "-",
            str(r.get("round_seconds", "-")), str(r.get("kept", "-")),
        )  # fmt: skip
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"db": str(args.db), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
