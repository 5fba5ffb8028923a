"""Learning curves as a PNG: held-out success and supervisor interventions."""

from __future__ import annotations

from pathlib import Path


def plot_curves(results: dict, path: Path, *, title: str = "") -> Path:
    """Two panels: success on held-out seeds vs training episodes, and interventions
    per training episode (5-episode moving average); one line per task, mean in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = results["tasks"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for task, curve in curves.items():
        xs = [p["episodes"] for p in curve["evals"]]
        left.plot(xs, [p["success_rate"] for p in curve["evals"]], marker="o", lw=1, alpha=0.6, label=task)
        ys = [t["interventions"] for t in curve["train"]]
        smooth = [sum(ys[max(0, i - 4) : i + 1]) / len(ys[max(0, i - 4) : i + 1]) for i in range(len(ys))]
        right.plot(range(1, len(ys) + 1), smooth, lw=1, alpha=0.6, label=task)
    if len(curves) > 1:
        points: dict[int, list[float]] = {}
        for curve in curves.values():
            for p in curve["evals"]:
                points.setdefault(p["episodes"], []).append(p["success_rate"])
        xs = sorted(x for x in points if len(points[x]) == len(curves))  # only where every task has a point
        left.plot(xs, [sum(points[x]) / len(points[x]) for x in xs], color="black", lw=2.5, label="mean")
    left.set(xlabel="training episodes", ylabel="success on held-out seeds", ylim=(-0.03, 1.03))
    right.set(xlabel="training episode", ylabel="interventions per episode (5-ep. mean)")
    left.grid(alpha=0.3)
    right.grid(alpha=0.3)
    left.legend(fontsize=7, loc="lower right")
    fig.suptitle(title or "webagent learning curves")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
