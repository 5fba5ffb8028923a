"""Which confidence can auto-approval trust? Measured on supervised dev-task episodes.

Each dev task runs `--episodes` episodes with the default model and exemplar
memory, supervised by the MiniWoB++ oracle (a proposal the oracle would not make
is corrected, and memory learns from every verdict, as when a person supervises).
Every proposal is scored by every signal at once:

- `policy`: the probability of the chosen tokens (today's confidence without the critic);
- `critic`: the critic's P(yes) (webagent.critic);
- `policy+critic`: their geometric mean (w = 0.5), today's default in the panel;
- `agreement`: the share of N simulated annotators (other demonstrations, another
  element order) that chose the same action (webagent.agreement);
- `agreement+policy`: the share with ties ordered by policy, what `--annotators` uses.

For each signal: AUROC for "the oracle agrees", and what auto-approval would get
from it, honestly split: the threshold is calibrated (webagent.calibration, α, δ)
on the first half of the steps in the order they happened, then applied to the
second half, reporting the coverage (share auto-approved) and the disagreement
rate among those.

    python scripts/bench_confidence.py --episodes 3 --annotators 4

Prints a table, writes results/confidence.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webagent.agreement import blend  # noqa: E402
from webagent.calibration import calibrate  # noqa: E402
from webagent.critic import combine  # noqa: E402
from webagent.store import Store  # noqa: E402


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """P(score of an agreed step > score of a disagreed one), ties counted half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


SIGNALS = {
    "policy": lambda s: s["policy"],
    "critic": lambda s: s["critic"],
    "policy+critic": lambda s: combine(s["policy"], s["critic"], 0.5),
    "agreement": lambda s: s["agreement"],
    "agreement+policy": lambda s: blend(s["agreement"], s["policy"], s["voters"]),
}


class Recording:
    """The oracle supervisor, noting each verdict with every signal of the proposal."""

    def __init__(self, inner, log: list[dict], voters: int) -> None:
        self.inner = inner
        self.voters = voters
        self.name = inner.name
        self.log = log

    def review(self, proposal):
        verdict = self.inner.review(proposal)
        d = proposal.decision
        if verdict is not None:
            self.log.append(
                {
                    "task": proposal.task,
                    "agreed": verdict.kind == "confirm",
                    "policy": d.policy_confidence,
                    "critic": d.critic,
                    "agreement": d.agreement,
                    "voters": self.voters,
                    "shots": len(d.exemplars),
                }
            )
        return verdict

    def review_episode(self, actions, reward):
        return self.inner.review_episode(actions, reward)


def evaluate(log: list[dict], alpha: float, delta: float, min_samples: int) -> dict:
    half = len(log) // 2
    calib, test = log[:half], log[half:]
    out = {}
    for name, signal in SIGNALS.items():
        scores = [signal(s) for s in log]
        calibration = calibrate(
            [(signal(s), s["agreed"]) for s in calib], alpha=alpha, delta=delta, min_samples=min_samples
        )
        covered = [] if calibration.threshold is None else [s for s in test if signal(s) >= calibration.threshold]
        out[name] = {
            "auroc": auroc(scores, [s["agreed"] for s in log]),
            "threshold": calibration.threshold,
            "test_coverage": len(covered) / len(test) if test else 0.0,
            "test_disagreement": (sum(not s["agreed"] for s in covered) / len(covered)) if covered else None,
        }
    return out


def report(log: list[dict], results: dict, args) -> None:
    print(f"\n{len(log)} judged steps, {sum(s['agreed'] for s in log)} agreed; calibrated on the first half,")
    print(f"tested on the second (alpha {args.alpha}, delta {args.delta})")
    print(f"{'signal':>18} {'AUROC':>6} {'threshold':>10} {'coverage':>9} {'disagreement':>13}")
    for name, r in results.items():
        a = f"{r['auroc']:.3f}" if r["auroc"] is not None else "–"
        t = f"{r['threshold']:.4f}" if r["threshold"] is not None else "–"
        d = f"{r['test_disagreement']:.1%}" if r["test_disagreement"] is not None else "–"
        print(f"{name:>18} {a:>6} {t:>10} {r['test_coverage']:>9.0%} {d:>13}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", help="dev tasks (default: all 22)")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--annotators", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--min-samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("results/confidence.json"))
    parser.add_argument("--from-json", type=Path, help="only evaluate the steps of an earlier run's JSON")
    args = parser.parse_args()
    if args.from_json:
        payload = json.loads(args.from_json.read_text())
        payload["signals"] = evaluate(payload["steps"], args.alpha, args.delta, args.min_samples)
        report(payload["steps"], payload["signals"], args)
        args.out.write_text(json.dumps(payload, indent=2))
        return

    from webagent.assembly import assemble
    from webagent.browser.session import BrowserSession
    from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer, dev_tasks
    from webagent.progress import RichReporter
    from webagent.settings import AgentSettings, AgreementSettings, CriticSettings, LoopSettings, ModelSettings
    from webagent.supervision import oracle_supervisor

    tasks = args.tasks or dev_tasks()
    db = args.out.with_suffix(".db")
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    store = Store(db)
    log: list[dict] = []
    settings = AgentSettings(
        model=ModelSettings(threads=args.threads),
        critic=CriticSettings(enabled=True, weight=0.5),
        agreement=AgreementSettings(annotators=args.annotators),
        loop=LoopSettings(max_steps=args.max_steps),
        seed=args.seed,
    )
    parts = assemble(settings, store, supervisor=Recording(oracle_supervisor(), log, args.annotators + 1))
    agent = parts.agent()
    run_id = parts.start_run("bench_confidence", args={k: str(v) for k, v in vars(args).items()})
    started = time.time()
    reporter = RichReporter()
    with BrowserSession() as session, MiniWoBServer() as server, reporter.running():
        reporter.start(len(tasks) * args.episodes, "supervised episodes")
        for task in tasks:
            reporter.describe(task)
            env = MiniWoBEnv(session, server, task)
            for i in range(args.episodes):
                seed = args.seed + i
                env.reset(seed)
                agent.run_episode(env, run_id=run_id, task=task, seed=seed)
                reporter.advance()
    parts.close()
    results = evaluate(log, args.alpha, args.delta, args.min_samples)
    report(log, results, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "settings": {k: str(v) for k, v in vars(args).items()} | {"tasks": tasks, "model": parts.policy.version},
        "signals": results,
        "steps": log,
        "seconds": round(time.time() - started, 1),
    }
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}; store {db}")


if __name__ == "__main__":
    main()
