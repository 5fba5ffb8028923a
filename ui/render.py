"""Pure functions: stored steps and live proposals → what the panel shows.

Nothing here imports gradio or touches a browser; the panel (ui/app.py) only
wires these to components, so everything it displays is unit-testable.

A *step view* is a dict shaped like a row of the `steps` table (candidates
decoded, screenshot as PNG bytes or a path): live proposals are turned into
one by `proposal_view`, so the live panel and the history view draw alike.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PROPOSED_COLOUR = (230, 57, 70)  # red: what the agent proposes
EXECUTED_COLOUR = (46, 160, 67)  # green: what ran instead (a correction)
CANDIDATE_COLOUR = (33, 118, 214)  # blue: the other candidates
_ID = re.compile(r"\[([^\]\s]+)\]")


def action_target(action: str | None) -> str | None:
    """The element id an action in the DSL names ("CLICK [12]" → "12")."""
    found = _ID.search(action or "")
    return found.group(1) if found else None


def proposal_view(proposal, *, auto: bool | None = None) -> dict[str, Any]:
    """A live `webagent.supervision.Proposal` as a step view."""
    decision = proposal.decision
    candidates = [c.row() for c in proposal.candidates]
    return {
        "idx": proposal.index,
        "task": proposal.task,
        "instruction": proposal.instruction,
        "url": proposal.observation.url,
        "title": proposal.observation.title,
        "history": [a.to_dsl() for a in proposal.history],
        "action": decision.action.to_dsl(),
        "confidence": decision.confidence,
        "policy_confidence": decision.policy_confidence,
        "critic": decision.critic,
        "agreement": decision.agreement,
        "candidates": candidates,
        "exemplars": [{"output": e.output, "task": e.task, "query": e.query} for e in decision.exemplars],
        "screenshot": proposal.observation.screenshot,
        "auto": auto,
    }


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def annotate(
    screenshot: bytes | str | Path | None,
    candidates: Sequence[dict[str, Any]],
    proposed_id: str | None,
    *,
    executed_id: str | None = None,
    limit: int = 10,
    crop: bool = False,
):
    """The page screenshot with the top candidates' boxes drawn and labelled by id;
    the proposed element in thick red, a different executed one (a correction) in green.
    With `crop`, only the part of the page around the drawn boxes, enlarged when small
    (MiniWoB++ tasks fill a 160×210 corner of the window). Returns a PIL image, or None
    without a screenshot."""
    from PIL import Image, ImageDraw

    if screenshot is None:
        return None
    raw = screenshot if isinstance(screenshot, bytes) else Path(screenshot).read_bytes()
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    font = _font(12)
    shown = list(candidates[:limit])
    for extra in (proposed_id, executed_id):  # always draw these, even when ranked low
        if extra is not None and all(str(c["id"]) != extra for c in shown):
            shown += [c for c in candidates if str(c["id"]) == extra]
    # the highlighted ones last, so they sit on top
    order = sorted(shown, key=lambda c: (str(c["id"]) in (proposed_id, executed_id), str(c["id"]) == proposed_id))
    for cand in order:
        box = cand.get("box") or (0, 0, 0, 0)
        x, y, w, h = (float(v) for v in box)
        if w <= 0 or h <= 0:
            continue
        cid = str(cand["id"])
        if cid == proposed_id:
            colour, width, fill = PROPOSED_COLOUR, 4, (*PROPOSED_COLOUR, 50)
        elif cid == executed_id:
            colour, width, fill = EXECUTED_COLOUR, 4, (*EXECUTED_COLOUR, 50)
        else:
            colour, width, fill = CANDIDATE_COLOUR, 2, None
        draw.rectangle([x, y, x + w, y + h], outline=(*colour, 255), width=width, fill=fill)
        label = f"[{cid}]"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tw, th = right - left + 6, bottom - top + 4
        ly = y - th if y - th >= 0 else y
        draw.rectangle([x, ly, x + tw, ly + th], fill=(*colour, 255))
        draw.text((x + 3 - left, ly + 2 - top), label, fill=(255, 255, 255, 255), font=font)
    out = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    boxes = [[float(v) for v in c.get("box") or (0, 0, 0, 0)] for c in shown]
    boxes = [b for b in boxes if b[2] > 0 and b[3] > 0]
    if crop and boxes:
        margin = 40
        left = max(0, int(min(b[0] for b in boxes)) - margin)
        top = max(0, int(min(b[1] for b in boxes)) - margin)
        if left < 200 and top < 200:  # near the corner: keep it (a MiniWoB++ task's instruction sits there)
            left = top = 0
        right = min(out.width, int(max(b[0] + b[2] for b in boxes)) + margin)
        bottom = min(out.height, int(max(b[1] + b[3] for b in boxes)) + margin)
        if right > left and bottom > top:
            out = out.crop((left, top, right, bottom))
            scale = min(3, -(-400 // out.width))  # small crops are shown at least ~400 px wide
            if scale > 1:
                out = out.resize((out.width * scale, out.height * scale), Image.Resampling.NEAREST)
    return out


CANDIDATE_HEADERS = ["", "id", "score", "lexical", "semantic", "element"]


def candidate_rows(candidates: Sequence[dict[str, Any]], proposed_id: str | None) -> list[list[Any]]:
    """The candidate table: the proposed one marked with ▶, ranker scores to 3 places."""
    return [
        [
            "▶" if str(c["id"]) == proposed_id else "",
            str(c["id"]),
            round(float(c.get("score", 0.0)), 3),
            round(float(c.get("lexical", 0.0)), 3),
            round(float(c.get("semantic", 0.0)), 3),
            c.get("text", ""),
        ]
        for c in candidates
    ]


EXEMPLAR_HEADERS = ["action", "task", "state (as retrieved)"]


def exemplar_rows(exemplars: Iterable[dict[str, Any]]) -> list[list[str]]:
    """The exemplars retrieved into this step's prompt, most similar first."""
    return [[e["output"], e.get("task") or "", " · ".join((e.get("query") or "").splitlines())] for e in exemplars]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def proposal_markdown(view: dict[str, Any]) -> str:
    """The proposal, its confidence and the critic's opinion, side by side."""
    lines = [f"### Step {view.get('idx', 0) + 1}: `{view.get('action')}`"]
    if view.get("instruction"):
        lines.insert(0, f"**Task** {view['instruction']}")
    target = action_target(view.get("action"))
    element = next((c for c in view.get("candidates") or [] if str(c["id"]) == target), None)
    if element is not None:
        lines.append(f"on [{target}] {element.get('text', '')}")
    confidence = view.get("confidence")
    parts = [f"**confidence {_percent(confidence)}**"]
    if view.get("policy_confidence") is not None:
        parts.append(f"policy {_percent(view['policy_confidence'])}")
    if view.get("critic") is not None:
        critic = view["critic"]
        opinion = "agrees" if critic >= 0.5 else "doubts it"
        parts.append(f"critic {_percent(critic)} ({opinion})")
    if view.get("agreement") is not None:
        parts.append(f"annotators agree {_percent(view['agreement'])}")
    lines.append(" · ".join(parts))
    if view.get("auto"):
        lines.append("_auto-approved: confidence above the calibrated threshold_")
    return "\n\n".join(lines)


def calibration_markdown(calibration, enabled: bool, audit=None, audit_share: float = 0.0) -> str:
    """Threshold, coverage and the guarantee (a webagent.calibration.Calibration), and what
    the audits (a webagent.autonomy.Audit: would-be auto-approvals asked anyway) say."""
    state = "**on**" if enabled else "off"
    audits = ""
    if audit is not None:
        audits = f"\n\nAudits: {audit_share:.0%} of the steps it would confirm are still asked · {audit.line()}."
    if calibration.threshold is None:
        return (
            f"Auto-approve {state} · no threshold yet: always asks ({calibration.reason}).\n\n"
            f"Target: agreement ≥ {1 - calibration.alpha:.0%} with probability ≥ {1 - calibration.delta:.0%}." + audits
        )
    return (
        f"Auto-approve {state} · threshold **{calibration.threshold:.4f}** · coverage "
        f"**{calibration.coverage:.0%}** of {calibration.n} judged steps · agreement there "
        f"{calibration.agreement:.1%} (bound on disagreement {calibration.bound:.1%} ≤ α = {calibration.alpha:g}).\n\n"
        f"Guarantee: on auto-approved steps, agreement ≥ {1 - calibration.alpha:.0%} "
        f"with probability ≥ {1 - calibration.delta:.0%}." + audits
    )


def model_markdown(model_version: str, versions: Sequence[dict[str, Any]]) -> str:
    """The model in use and the tuner's latest update (rows of `model_versions`)."""
    lines = [f"Model in use: `{model_version}`"]
    updates = [v for v in versions if v.get("method") != "base" or v.get("version", 0) > 0]
    if not updates:
        lines.append("No tuner update yet.")
        return "\n\n".join(lines)
    last = max(updates, key=lambda v: (v.get("created") or "", v.get("version", 0)))
    kept = sum(v.get("status") == "kept" for v in updates)
    rolled = sum(v.get("status") == "rolled-back" for v in updates)
    metrics = last.get("metrics") or {}
    detail = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in list(metrics.items())[:4])
    lines.append(
        f"Last update: version {last.get('version')} ({last.get('method')}) at {last.get('created')} — "
        f"**{last.get('status')}**{f' ({detail})' if detail else ''}. "
        f"{kept} kept, {rolled} rolled back so far."
    )
    return "\n\n".join(lines)


def episode_progress(episodes: Sequence[dict[str, Any]], feedback: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per finished episode, in order: interventions (rejections and corrections),
    auto-approval coverage (auto confirmations / all verdicts) and success."""
    by_episode: dict[int, list[dict]] = {}
    for row in feedback:
        by_episode.setdefault(row.get("episode_id"), []).append(row)
    out = []
    for number, episode in enumerate((e for e in episodes if e.get("outcome") != "running"), start=1):
        rows = by_episode.get(episode["id"], [])
        verdicts = [r for r in rows if r.get("source") != "reward"]
        auto = sum(r.get("source") == "auto" for r in verdicts)
        out.append(
            {
                "episode": number,
                "episode_id": episode["id"],
                "task": episode.get("task") or "",
                "interventions": sum(r.get("kind") in ("reject", "correct") for r in verdicts),
                "auto": auto,
                "verdicts": len(verdicts),
                "coverage": auto / len(verdicts) if verdicts else 0.0,
                "success": 1.0 if episode.get("outcome") == "success" else 0.0,
            }
        )
    return out


def plot_rows(progress: Sequence[dict[str, Any]], metrics: Sequence[str], window: int = 5) -> list[dict[str, Any]]:
    """Long-format rows (episode, metric, value) for a line plot, as a moving average over `window` episodes."""
    rows = []
    for metric in metrics:
        values = [p[metric] for p in progress]
        for i, p in enumerate(progress):
            recent = values[max(0, i - window + 1) : i + 1]
            rows.append({"episode": p["episode"], "metric": metric, "value": sum(recent) / len(recent)})
    return rows


RUN_HEADERS = ["run", "created", "command", "policy", "model version"]
EPISODE_HEADERS = ["episode", "run", "task", "seed", "instruction", "steps", "outcome", "reward", "verdicts"]
STEP_HEADERS = ["step", "action", "proposed", "confidence", "critic", "verdicts", "error"]


def run_rows(runs: Iterable[dict[str, Any]]) -> list[list[Any]]:
    return [[r["id"], r.get("created"), r.get("command"), r.get("policy"), r.get("model_version")] for r in runs]


def verdict_summary(feedback: Iterable[dict[str, Any]]) -> str:
    """'confirm (person), correct (person)' — each verdict and who gave it."""
    return ", ".join(f"{r['kind']} ({r.get('source') or '?'})" for r in feedback)


def episode_rows(
    episodes: Iterable[dict[str, Any]], feedback_by_episode: dict[int, list[dict]] | None = None
) -> list[list[Any]]:
    feedback_by_episode = feedback_by_episode or {}
    return [
        [
            e["id"],
            e.get("run_id"),
            e.get("task"),
            e.get("seed"),
            e.get("instruction"),
            e.get("steps"),
            e.get("outcome"),
            e.get("reward"),
            verdict_summary(feedback_by_episode.get(e["id"], [])),
        ]
        for e in episodes
    ]


def step_rows(steps: Iterable[dict[str, Any]], feedback: Sequence[dict[str, Any]] = ()) -> list[list[Any]]:
    """One row per stored step with the verdicts given on it (rejections have no step: shown on the next one)."""
    rows = []
    pending: list[dict] = [f for f in feedback if f.get("step_id") is None]
    for step in steps:
        mine = [f for f in feedback if f.get("step_id") == step["id"]]
        before = [f for f in pending if f["id"] < min((m["id"] for m in mine), default=f["id"] + 1)]
        pending = [f for f in pending if f not in before]
        confidence = step.get("confidence")
        rows.append(
            [
                step.get("idx"),
                step.get("action"),
                step.get("proposed") or "",
                None if confidence is None else round(confidence, 3),
                None if step.get("critic") is None else round(step["critic"], 3),
                verdict_summary(before + mine),
                step.get("error") or "",
            ]
        )
    return rows


def gallery_items(steps: Iterable[dict[str, Any]], root: Path) -> list[tuple[Any, str]]:
    """(annotated screenshot, caption) per stored step that has a screenshot."""
    items = []
    for step in steps:
        if not step.get("screenshot"):
            continue
        path = root / step["screenshot"]
        if not path.exists():
            continue
        proposed = action_target(step.get("proposed") or step.get("action"))
        executed = action_target(step.get("action"))
        image = annotate(path, step.get("candidates") or [], proposed, executed_id=executed)
        caption = f"step {step['idx'] + 1}: {step.get('action')}"
        if step.get("proposed"):
            caption += f" (proposed {step['proposed']})"
        items.append((image, caption))
    return items


def episode_record(
    episode: dict[str, Any], steps: Sequence[dict[str, Any]], feedback: Sequence[dict[str, Any]]
) -> dict:
    """One exported episode: the episode row, its steps (as the store decodes them, prompts kept) and its verdicts."""
    return {**episode, "steps": list(steps), "feedback": list(feedback)}


def export_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """Episodes as JSON Lines, one episode per line."""
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)


def parse_ids(text: str) -> list[int]:
    """'3, 5-7 9' → [3, 5, 6, 7, 9]: the episodes a person typed."""
    ids: list[int] = []
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if not part:
            continue
        if "-" in part:
            start, _, end = part.partition("-")
            if not (start.isdigit() and end.isdigit()):
                raise ValueError(f"not an episode range: {part!r}")
            ids += list(range(int(start), int(end) + 1))
        elif part.isdigit():
            ids.append(int(part))
        else:
            raise ValueError(f"not an episode id: {part!r}")
    return list(dict.fromkeys(ids))
