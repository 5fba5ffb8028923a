"""Earned autonomy, measured: the oracle stands in for the person, auto-approval is on.

On one MiniWoB++ dev task, `--episodes` supervised episodes run with the default
model, exemplar memory and the critic. Every proposal either goes to the oracle
(confirm or correct; an intervention when it corrects) or, when its confidence
is at or above the threshold calibrated on the verdicts so far (α, δ), is
auto-approved. For each auto-approved step the oracle is asked afterwards, in
the shadows (the agent never hears the answer), whether it agreed: that gives
the observed agreement on auto-approved steps to set against the promised 1 − α.

    python scripts/autonomy_run.py --task click-dialog --episodes 50

Prints a table per block of episodes, writes results/autonomy.json and
results/autonomy.png, and keeps the store at results/autonomy.db.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webagent.calibration import clopper_pearson_upper  # noqa: E402
from webagent.settings import AutonomySettings  # noqa: E402
from webagent.store import Store  # noqa: E402
from webagent.supervision import oracle_supervisor  # noqa: E402


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    """P(score of an agreed step > score of a disagreed one), ties counted half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


class Recording:
    """The oracle supervisor, noting each verdict with the confidences it was given at."""

    def __init__(self, inner, log: list[dict]) -> None:
        self.inner = inner
        self.name = inner.name
        self.log = log

    def review(self, proposal):
        verdict = self.inner.review(proposal)
        d = proposal.decision
        if verdict is not None:
            self.log.append(
                {
                    "auto": False,
                    "agreed": verdict.kind == "confirm",
                    "confidence": d.confidence,
                    "policy_confidence": d.policy_confidence if d.policy_confidence is not None else d.confidence,
                    "critic": d.critic,
                }
            )
        return verdict

    def review_episode(self, actions, reward):
        return self.inner.review_episode(actions, reward)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["episodes"]
    xs = [r["episode"] for r in rows]

    def smooth(key):
        ys = [r[key] for r in rows]
        return [statistics.fmean(ys[max(0, i - 4) : i + 1]) for i in range(len(ys))]

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(xs, smooth("interventions"), label="interventions / episode (5-ep. mean)", color="tab:red")
    left.plot(xs, smooth("success"), label="success (5-ep. mean)", color="tab:green")
    left.set(xlabel="episode", ylim=(-0.05, max(1.05, max((r["interventions"] for r in rows), default=1) + 0.1)))
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.plot(xs, smooth("coverage"), label="auto-approval coverage (5-ep. mean)", color="tab:blue")
    right.plot(
        xs,
        [r["threshold"] if r["threshold"] is not None else float("nan") for r in rows],
        label="threshold λ after the episode",
        color="tab:purple",
        ls="--",
    )
    right.set(xlabel="episode", ylim=(-0.05, 1.05))
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    s = results["summary"]
    fig.suptitle(
        f"{results['settings']['task']}: α={s['alpha']}, δ={s['delta']} · auto-approved {s['auto_steps']} steps, "
        f"observed agreement {s['auto_agreement'] if s['auto_agreement'] is not None else '–'} "
        f"(promised ≥ {1 - s['alpha']:.2f})",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="click-dialog")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--min-samples", type=int, default=30)
    parser.add_argument("--critic", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--critic-weight", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: two runs share two cores)")
    parser.add_argument("--out", type=Path, default=Path("results/autonomy"))
    args = parser.parse_args()

    from webagent.assembly import assemble
    from webagent.browser.session import BrowserSession
    from webagent.envs.miniwob import MiniWoBEnv, MiniWoBServer
    from webagent.settings import AgentSettings, CriticSettings, LoopSettings, ModelSettings

    db = args.out.with_suffix(".db")
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    store = Store(db)
    log: list[dict] = []
    person = oracle_supervisor(args.task)

    def shadow(proposal, calibration) -> None:
        d = proposal.decision
        judged = person.agrees(proposal)
        if judged is None:
            return  # the oracle cannot tell on this page
        agreed = judged[0]
        log.append(
            {
                "auto": True,
                "agreed": agreed,
                "confidence": d.confidence,
                "policy_confidence": d.policy_confidence if d.policy_confidence is not None else d.confidence,
                "critic": d.critic,
                "threshold": calibration.threshold,
            }
        )

    autonomy = AutonomySettings(enabled=True, alpha=args.alpha, delta=args.delta, min_samples=args.min_samples)
    settings = AgentSettings(
        model=ModelSettings(threads=args.threads),
        critic=CriticSettings(enabled=args.critic, weight=args.critic_weight),
        autonomy=autonomy,
        loop=LoopSettings(max_steps=args.max_steps),
        seed=args.seed,
    )
    supervisor = Recording(person, log)
    parts = assemble(settings, store, supervisor=supervisor, on_auto=shadow)
    approver, agent = parts.approver, parts.agent()
    run_id = parts.start_run(f"autonomy_run {args.task}", args={k: str(v) for k, v in vars(args).items()})
    rows = []
    started = time.time()
    print(f"{args.task}: {args.episodes} episodes, α={args.alpha} δ={args.delta}, critic={args.critic}", flush=True)
    with BrowserSession() as session, MiniWoBServer() as server:
        env = MiniWoBEnv(session, server, args.task)
        for i in range(args.episodes):
            seed = args.seed + i
            env.reset(seed)
            auto0, asked0, logged = approver.auto_approved, approver.asked, len(log)
            result = agent.run_episode(env, run_id=run_id, task=args.task, seed=seed)
            auto, asked = approver.auto_approved - auto0, approver.asked - asked0
            calibration = approver.calibration()
            row = {
                "episode": i + 1,
                "seed": seed,
                "outcome": result.outcome,
                "success": 1.0 if result.outcome == "success" else 0.0,
                "steps": len(result.steps),
                "interventions": sum(s.interventions for s in result.steps),
                # auto-approved steps the oracle, asked afterwards, disagreed with: with the
                # interventions, every step the agent got wrong (auto-approval hides these)
                "auto_wrong": sum(1 for e in log[logged:] if e["auto"] and not e["agreed"]),
                "auto": auto,
                "asked": asked,
                "coverage": auto / (auto + asked) if auto + asked else 0.0,
                "threshold": calibration.threshold,
                "calibration_n": calibration.n,
                "seconds": round(time.time() - started, 1),
            }
            rows.append(row)
            print(
                f"episode {i + 1:3d} seed {seed:3d}: {result.outcome:10s} steps {row['steps']} "
                f"interventions {row['interventions']} auto {auto}/{auto + asked} "
                f"threshold {calibration.threshold if calibration.threshold is not None else '–'} "
                f"(n={calibration.n}) [{row['seconds']:.0f}s]",
                flush=True,
            )
    auto_log = [e for e in log if e["auto"]]
    judged = [e for e in log if not e["auto"]]
    agree = sum(e["agreed"] for e in auto_log)
    everything = log
    labels = [e["agreed"] for e in everything]
    summary = {
        "alpha": args.alpha,
        "delta": args.delta,
        "episodes": len(rows),
        "auto_steps": len(auto_log),
        "auto_agreement": round(agree / len(auto_log), 4) if auto_log else None,
        "auto_agreement_lower_bound": (
            round(1 - clopper_pearson_upper(len(auto_log) - agree, len(auto_log), args.delta), 4) if auto_log else None
        ),
        "promised_agreement": 1 - args.alpha,
        "asked_steps": len(judged),
        "asked_agreement": round(statistics.fmean(e["agreed"] for e in judged), 4) if judged else None,
        "final_threshold": rows[-1]["threshold"] if rows else None,
        "first_auto_episode": next((r["episode"] for r in rows if r["auto"]), None),
        "auroc": {
            key: auroc(
                [e[key] for e in everything if e[key] is not None],
                [e["agreed"] for e in everything if e[key] is not None],
            )
            for key in ("confidence", "policy_confidence", "critic")
        },
        "steps_judged_total": len(labels),
    }
    blocks = []
    for start in range(0, len(rows), 10):
        block = rows[start : start + 10]
        blocks.append(
            {
                "episodes": f"{block[0]['episode']}-{block[-1]['episode']}",
                "interventions": statistics.fmean(r["interventions"] for r in block),
                "wrong": statistics.fmean(r["interventions"] + r["auto_wrong"] for r in block),
                "coverage": sum(r["auto"] for r in block) / max(sum(r["auto"] + r["asked"] for r in block), 1),
                "success": statistics.fmean(r["success"] for r in block),
                "threshold": block[-1]["threshold"],
            }
        )
    print()
    header = ("episodes", 10), ("interventions/ep", 17), ("wrong/ep", 9), ("auto coverage", 14), ("success", 8)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'threshold':>10}")
    for b in blocks:
        threshold = f"{b['threshold']:.4f}" if b["threshold"] is not None else "–"
        print(
            f"{b['episodes']:>10} {b['interventions']:>17.2f} {b['wrong']:>9.2f} {b['coverage']:>14.0%} "
            f"{b['success']:>8.0%} {threshold:>10}"
        )
    print()
    print(
        f"auto-approved steps: {summary['auto_steps']}, observed agreement {summary['auto_agreement']} "
        f"(one-sided {1 - args.delta:.0%} lower bound {summary['auto_agreement_lower_bound']}); "
        f"promised ≥ {1 - args.alpha:.2f} with probability ≥ {1 - args.delta:.2f}"
    )
    print(f"AUROC for agreement: {summary['auroc']}")
    results = {
        "settings": {**{k: str(v) for k, v in vars(args).items()}, "task": args.task, "model": parts.policy.version},
        "summary": summary,
        "blocks": blocks,
        "episodes": rows,
        "steps": log,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    plot(results, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}; store {db}")


if __name__ == "__main__":
    main()
