"""The `webagent` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from webagent.errors import WebAgentError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="A local, supervised web agent.")
console = Console()

ModelOpt = Annotated[str, typer.Option(help="'default' (SmolLM2-135M-Instruct), a local folder or a model id.")]
PolicyOpt = Annotated[str, typer.Option(help="model | ranker | random")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="sqlite store [env WEBAGENT_DB; default: user data dir]")]
TopKOpt = Annotated[int, typer.Option("--top-k", help="candidates shown to the policy")]
StepsOpt = Annotated[int, typer.Option("--max-steps", help="step limit per episode")]
HeadfulOpt = Annotated[bool, typer.Option("--headful", help="show the browser window")]


def _fail(exc: WebAgentError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


def _open(db: Path | None):
    from webagent.store import Store

    return Store(db)


@app.command()
def miniwob(
    task: Annotated[list[str] | None, typer.Option("--task", help="a MiniWoB++ task; repeat for more")] = None,
    tasks_file: Annotated[Path | None, typer.Option(help="file of task names, one per line")] = None,
    episodes: Annotated[int, typer.Option(help="episodes per task")] = 10,
    seed: Annotated[int, typer.Option(help="seed of the first episode; episode i uses seed+i")] = 0,
    policy: PolicyOpt = "model",
    model: ModelOpt = "default",
    top_k: TopKOpt = 10,
    max_steps: StepsOpt = 12,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    db: DbOpt = None,
    headful: HeadfulOpt = False,
) -> None:
    """Run the agent on MiniWoB++ tasks and report success per task."""
    from webagent.envs.miniwob import read_tasks_file
    from webagent.runs import RunSettings, run_miniwob

    try:
        tasks = list(task or []) + (read_tasks_file(tasks_file) if tasks_file else [])
        if not tasks:
            raise WebAgentError("name a task with --task or a file with --tasks-file")
        store = _open(db)
        settings = RunSettings(policy, model, top_k, max_steps, seed, headless=not headful)
        results = run_miniwob(tasks, settings, episodes=episodes, store=store, console=console)
    except WebAgentError as exc:
        _fail(exc)
    table = Table(title=f"MiniWoB++ · policy={policy} · {episodes} episodes per task")
    for col in ("task", "success", "mean reward", "mean steps"):
        table.add_column(col, justify="right" if col != "task" else "left")
    for name, rows in results["tasks"].items():
        table.add_row(name, f"{rows['success_rate']:.0%}", f"{rows['mean_reward']:+.2f}", f"{rows['mean_steps']:.1f}")
    table.add_row("[b]mean[/b]", f"[b]{results['mean_success_rate']:.0%}[/b]", "", "")
    console.print(table)
    console.print(f"stored in {store.path} (run {results['run_id']})")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))
        console.print(f"wrote {json_out}")


@app.command()
def run(
    url: Annotated[str, typer.Option(help="start page")] = "",
    task: Annotated[str, typer.Option(help="the instruction")] = "",
    task_file: Annotated[Path | None, typer.Option(help="JSON Lines of {url, instruction, until_text?}")] = None,
    until_text: Annotated[str | None, typer.Option(help="the task is done when this text appears")] = None,
    policy: PolicyOpt = "model",
    model: ModelOpt = "default",
    top_k: TopKOpt = 10,
    max_steps: StepsOpt = 6,
    seed: int = 0,
    db: DbOpt = None,
    headful: HeadfulOpt = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
) -> None:
    """Run the agent on any site: a URL and an instruction, or a task file."""
    from webagent.envs.scripted import ScriptedTask, read_task_file
    from webagent.runs import RunSettings, run_scripted

    try:
        if task_file:
            tasks = read_task_file(task_file)
        elif url and task:
            tasks = [ScriptedTask(url=url, instruction=task, until_text=until_text, name=url)]
        else:
            raise WebAgentError("give --url and --task, or --task-file")
        store = _open(db)
        settings = RunSettings(policy, model, top_k, max_steps, seed, headless=not headful)
        results = run_scripted(tasks, settings, store=store, console=console)
    except WebAgentError as exc:
        _fail(exc)
    console.print(f"stored in {store.path} (run {results['run_id']})")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))


@app.command()
def logs(
    last: Annotated[int, typer.Option(help="how many recent steps")] = 5,
    db: DbOpt = None,
    prompt: Annotated[bool, typer.Option(help="also print each prompt")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """What the agent saw, proposed and did in its most recent steps."""
    try:
        store = _open(db)
    except WebAgentError as exc:
        _fail(exc)
    rows = store.last_steps(last)
    if json_out:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        console.print(f"no steps in {store.path}")
    for row in rows:
        candidates = json.loads(row["candidates"] or "[]")
        latency = json.loads(row["latency"] or "{}")
        console.rule(f"episode {row['episode_id']} · step {row['idx']} · {row['task']}")
        console.print(f"[b]task[/b] {row['instruction']}")
        console.print(f"[b]page[/b] {row['url']}  ({row['title']})")
        shown = ", ".join(f"[{c['id']}] {c['text'][:40]} ({c['score']:.2f})" for c in candidates[:5])
        console.print(f"[b]candidates[/b] {shown}")
        confidence = row["confidence"] if row["confidence"] is not None else float("nan")
        console.print(f"[b]action[/b] {row['action']}   confidence {confidence:.2f}   model {row['model_version']}")
        if row["error"]:
            console.print(f"[red]error[/red] {row['error']}")
        console.print("[b]latency[/b] " + "  ".join(f"{k} {v * 1000:.0f} ms" for k, v in latency.items()))
        if prompt and row["prompt"]:
            console.print(row["prompt"], markup=False)
