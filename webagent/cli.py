"""The `webagent` command line.

Exit codes (the README lists them too): 0 the command did its job; 1 every
episode failed; 2 a usage error (a bad argument, file or name: reported in one
line before anything loads); 3 something a task needs could not be started (the
browser, the model, a start page: connection refused, HTTP 4xx/5xx, timeout);
130 interrupted (Ctrl-C or SIGTERM; the episode under way is stored as
`interrupted`).
"""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from webagent.errors import BrowserError, ModelError, WebAgentError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="A local, supervised web agent.")
console = Console()

ModelOpt = Annotated[str, typer.Option(help="'default' (SmolLM2-135M-Instruct), a local folder or a model id.")]
PolicyOpt = Annotated[str, typer.Option(help="model | ranker | random")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="sqlite store [env WEBAGENT_DB; default: user data dir]")]
TopKOpt = Annotated[int, typer.Option("--top-k", help="candidates shown to the policy")]
StepsOpt = Annotated[int, typer.Option("--max-steps", help="step limit per episode")]
HeadfulOpt = Annotated[bool, typer.Option("--headful", help="show the browser window")]
DecodingOpt = Annotated[str, typer.Option(help="plain | speculative | smc (grammar-constrained decoding mode)")]
ParticlesOpt = Annotated[int, typer.Option(help="SMC particles (--decoding smc)")]
DraftOpt = Annotated[
    str | None,
    typer.Option(
        "--draft-model", help="speculative draft: a model with the same tokenizer, or 'lookup' [default: self-draft]"
    ),
]


VersionOpt = Annotated[
    str, typer.Option("--model-version", help="active (the store's active tuned version) | base | a version number")
]
MemoryOpt = Annotated[bool, typer.Option(help="use (and grow) the store's exemplar memory")]
SecretOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        help="NAME=value, or NAME to read $NAME; write {NAME} in the instruction; stored and shown only as {NAME}",
    ),
]
AllowDomainOpt = Annotated[
    list[str] | None,
    typer.Option("--allow-domain", help="only this host and its subdomains may be loaded; repeat for more"),
]
AllowFilesOpt = Annotated[bool, typer.Option("--allow-files", help="allow file:// URLs (refused by default)")]
SecretsFileOpt = Annotated[Path | None, typer.Option("--secrets-file", help="NAME=value lines, as --secret")]
TraceOpt = Annotated[
    Path | None,
    typer.Option("--trace", help="write a Playwright trace per episode here (playwright show-trace FILE)"),
]
ScreenshotsDirOpt = Annotated[Path | None, typer.Option("--screenshots", help="keep a PNG per step here")]
ShotsOpt = Annotated[int, typer.Option(help="exemplars shown per decision")]
GuardOpt = Annotated[
    bool,
    typer.Option(
        "--memory-guard/--no-memory-guard",
        help="leave out exemplars that make their task's other confirmed steps less likely",
    ),
]
TuneParamsOpt = Annotated[
    str, typer.Option(help="what tuning moves: last:N | lora:R | norms | all | head:R [default: head:8]")
]
TuneStepsOpt = Annotated[int, typer.Option(help="steps per tuning round [default: by parameter set]")]
TuneLrOpt = Annotated[float | None, typer.Option(help="tuning learning rate [default: by parameter set]")]
RelabelOpt = Annotated[
    bool, typer.Option(help="show the exemplars' element ids as a, b, c (what kind of element, not which number)")
]
ProceduresOpt = Annotated[
    bool,
    typer.Option(help="reuse successful supervised episodes on tasks worded alike with other values (with --memory)"),
]
DtypeOpt = Annotated[
    str, typer.Option(help="auto (bfloat16 where the CPU has it, float32 when tuned) | float32 | bfloat16")
]
ThreadsOpt = Annotated[int, typer.Option(help="torch threads (0: torch's default)")]
ProfileOpt = Annotated[
    str | None,
    typer.Option(help="settings saved by `webagent optimize` under this name (options given here win)"),
]
AdapterOpt = Annotated[
    str, typer.Option(help="the starting adapter merged into the model: default (the packaged one) | none | PATH")
]


EXIT_OK = 0
EXIT_ALL_FAILED = 1  # every episode failed
EXIT_USAGE = 2  # a bad argument, file or name
EXIT_CANNOT_START = 3  # the browser, the model or a start page could not be loaded
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


def _fail(exc: WebAgentError) -> None:
    console.print("[red]error:[/red] " + _escape(str(exc)), highlight=False, soft_wrap=True)
    code = EXIT_CANNOT_START if isinstance(exc, (BrowserError, ModelError)) else EXIT_USAGE
    raise typer.Exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text.splitlines()[0] if text else text)


@contextlib.contextmanager
def _interruptible():
    """Ctrl-C and SIGTERM end the command with exit code 130 and one line; the agent
    has already stored the episode under way as interrupted (webagent.agent)."""

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: what ran so far is in the store")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_for(rows: list[dict], *, can_tell: bool = True) -> None:
    """Exit 1 when every episode failed (0 episodes run is not a success either)."""
    if can_tell and not any(r["outcome"] == "success" for r in rows):
        console.print(f"[red]every episode failed[/red] ({len(rows)} run)")
        raise typer.Exit(EXIT_ALL_FAILED)


def _check_task_names(names: list[str]) -> None:
    """Unknown MiniWoB++ task names fail here, at once, with the nearest valid ones."""
    import difflib

    from webagent.envs.miniwob import available_tasks

    known = available_tasks()
    for name in names:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
            hint = f"did you mean {', '.join(near)}?" if near else f"valid tasks: {', '.join(known)}"
            raise WebAgentError(f"unknown MiniWoB++ task {name!r}; {hint}")


def _episode_counts(text: str) -> tuple[int, ...]:
    """--eval-at "10,25,50" as numbers, or an error that shows what could not be read."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise WebAgentError(f"--eval-at {text!r}: give episode counts separated by commas, e.g. 10,25,50") from None


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise WebAgentError(f"--{name.replace('_', '-')} must be at least 1, not {value}")


def _settings(
    *,
    policy: str = "model",
    model: str = "default",
    model_version: str = "active",
    decoding: str = "plain",
    particles: int = 8,
    draft_model: str | None = None,
    dtype: str = "auto",
    threads: int = 0,
    adapter: str = "default",
    memory: bool = True,
    shots: int = 3,
    relabel: bool = True,
    guard: bool = False,
    procedures: bool = True,
    top_k: int = 10,
    max_steps: int = 12,
    seed: int = 0,
    headful: bool = False,
    allow_domain: list[str] | None = None,
    allow_files: bool = False,
    profile: str | None = None,
    db: Path | None = None,
    ctx: typer.Context | None = None,
    **layers,
):
    """The one settings object from the options every agent command shares (checked before
    anything loads); a `profile`'s values replace the defaults of options not given."""
    from webagent.allow import SitePolicy
    from webagent.settings import AgentSettings, LoopSettings, MemorySettings, ModelSettings

    if policy == "model":
        from webagent import adapters
        from webagent.models.loading import check

        try:
            check(model)  # an unknown name fails now, not after the browser started
            adapters.check(adapter, model)
        except ModelError as exc:
            raise WebAgentError(str(exc)) from None  # a usage error: the name is wrong
    settings = AgentSettings(
        policy=policy,
        model=ModelSettings(
            name=model,
            version=model_version,
            decoding=decoding,
            particles=particles,
            draft_model=draft_model,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
        ),
        memory=MemorySettings(enabled=memory, shots=shots, relabel=relabel, guard=guard, procedures=procedures),
        loop=LoopSettings(top_k=top_k, max_steps=max_steps, screenshots=layers.pop("screenshots", False)),
        seed=seed,
        headless=not headful,
        sites=SitePolicy(domains=tuple(allow_domain or ()), allow_files=allow_files),
        **layers,
    )
    return _with_profile(settings, profile, db, ctx) if profile else settings


# Search-space paths a command also has an option for: an option given on the command line wins.
PROFILE_OPTIONS = {
    "loop.top_k": "top_k",
    "memory.shots": "shots",
    "memory.relabel": "relabel",
    "model.decoding": "decoding",
    "model.particles": "particles",
}


def _with_profile(settings, name: str, db: Path | None, ctx: typer.Context | None):
    """`settings` with the stored profile's values, except those the command line set."""
    from webagent import space
    from webagent.errors import StoreError

    try:
        store = _open(db, create=False)
    except StoreError:
        raise WebAgentError(
            f"no profile {name!r}: there is no store yet (`webagent optimize` saves profiles)"
        ) from None
    try:
        row = store.profile(name)
        names = store.profile_names()
    finally:
        store.close()
    if row is None:
        known = ", ".join(names) or "none yet"
        raise WebAgentError(f"no profile {name!r} in {store.path} (profiles: {known})")
    params = dict(row["params"] or {})
    space.check(params)
    given = {
        path
        for path, option in PROFILE_OPTIONS.items()
        if ctx is not None and option in ctx.params and ctx.get_parameter_source(option).name == "COMMANDLINE"
    }
    return space.apply(settings, {k: v for k, v in params.items() if k not in given})


def _secrets(specs: list[str] | None, path: Path | None) -> tuple[tuple[str, str], ...]:
    """Declared secrets from --secret and --secrets-file (webagent.secrets)."""
    from webagent.secrets import parse_secret, read_secrets_file

    pairs = read_secrets_file(path) if path else []
    pairs += [parse_secret(spec) for spec in specs or []]
    return tuple(pairs)


def _capture(trace: Path | None, screenshots: Path | None):
    from webagent.settings import CaptureSettings

    return CaptureSettings(trace_dir=trace, screenshots_dir=screenshots)


def _open(db: Path | None, *, create: bool = True):
    """The store; commands that only read it (`logs`, `export`, `models`) never create one."""
    from webagent.store import Store

    return Store(db, create=create)


@app.command()
def miniwob(
    ctx: typer.Context,
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
    profile: ProfileOpt = None,
    headful: HeadfulOpt = False,
    decoding: DecodingOpt = "plain",
    particles: ParticlesOpt = 8,
    draft_model: DraftOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    model_version: VersionOpt = "active",
    memory: MemoryOpt = True,
    shots: ShotsOpt = 3,
    relabel: RelabelOpt = True,
    procedures: ProceduresOpt = True,
    secret: SecretOpt = None,
    secrets_file: SecretsFileOpt = None,
    trace: TraceOpt = None,
    screenshots: ScreenshotsDirOpt = None,
) -> None:
    """Run the agent on MiniWoB++ tasks and report success per task."""
    from webagent.envs.miniwob import read_task_names
    from webagent.progress import RichReporter
    from webagent.runs import run_miniwob

    try:
        _check_positive(episodes=episodes)
        _check_task_names(list(task or []))
        tasks = list(task or []) + (read_task_names(tasks_file) if tasks_file else [])
        if not tasks:
            raise WebAgentError("name a task with --task or a file with --tasks-file")
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            policy=policy,
            model=model,
            model_version=model_version,
            decoding=decoding,
            particles=particles,
            draft_model=draft_model,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
            memory=memory,
            shots=shots,
            relabel=relabel,
            procedures=procedures,
            top_k=top_k,
            max_steps=max_steps,
            seed=seed,
            headful=headful,
            secrets=_secrets(secret, secrets_file),
            capture=_capture(trace, screenshots),
        )
        store = _open(db)
        with _interruptible():
            results = run_miniwob(tasks, settings, episodes=episodes, store=store, reporter=RichReporter(console))
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
    _exit_for([r for t in results["tasks"].values() for r in t["episodes_detail"]])


@app.command()
def run(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(help="start page")] = "",
    task: Annotated[str, typer.Option(help="the instruction")] = "",
    task_file: Annotated[Path | None, typer.Option(help="JSON Lines of {url, instruction, until_*?}")] = None,
    until_text: Annotated[str | None, typer.Option(help="the task is done when this text appears")] = None,
    until_url: Annotated[
        str | None, typer.Option(help="the task is done when the URL contains this, or matches it as a regex")
    ] = None,
    policy: PolicyOpt = "model",
    model: ModelOpt = "default",
    top_k: TopKOpt = 10,
    max_steps: StepsOpt = 6,
    seed: int = 0,
    db: DbOpt = None,
    profile: ProfileOpt = None,
    headful: HeadfulOpt = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    decoding: DecodingOpt = "plain",
    particles: ParticlesOpt = 8,
    draft_model: DraftOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    model_version: VersionOpt = "active",
    memory: MemoryOpt = True,
    shots: ShotsOpt = 3,
    relabel: RelabelOpt = True,
    procedures: ProceduresOpt = True,
    secret: SecretOpt = None,
    secrets_file: SecretsFileOpt = None,
    allow_domain: AllowDomainOpt = None,
    allow_files: AllowFilesOpt = False,
    trace: TraceOpt = None,
    screenshots: ScreenshotsDirOpt = None,
) -> None:
    """Run the agent on any site: a URL and an instruction, or a task file."""
    from webagent.envs.scripted import ScriptedTask, read_scripted_tasks
    from webagent.progress import RichReporter
    from webagent.runs import run_scripted

    try:
        if task_file:
            tasks = read_scripted_tasks(task_file)
        elif url and task:
            tasks = [ScriptedTask(url=url, instruction=task, until_text=until_text, until_url=until_url, name=url)]
        else:
            raise WebAgentError("give --url and --task, or --task-file")
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            policy=policy,
            model=model,
            model_version=model_version,
            decoding=decoding,
            particles=particles,
            draft_model=draft_model,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
            memory=memory,
            shots=shots,
            relabel=relabel,
            procedures=procedures,
            top_k=top_k,
            max_steps=max_steps,
            seed=seed,
            headful=headful,
            secrets=_secrets(secret, secrets_file),
            allow_domain=allow_domain,
            allow_files=allow_files,
            capture=_capture(trace, screenshots),
        )
        for t in tasks:  # a start page the agent may not load fails now
            settings.sites.require(t.url)
        store = _open(db)
        with _interruptible():
            results = run_scripted(tasks, settings, store=store, reporter=RichReporter(console))
    except WebAgentError as exc:
        _fail(exc)
    console.print(f"stored in {store.path} (run {results['run_id']})")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))
    rows = [r for t in results["tasks"].values() for r in t["episodes_detail"]]
    if any(r.get("could_not_start") for r in rows):
        raise typer.Exit(EXIT_CANNOT_START)
    # Without --until-* nothing tells success: an episode that ran to its end did its job.
    _exit_for([r for r in rows if r.get("can_tell", True)], can_tell=any(r.get("can_tell", True) for r in rows))


@app.command("save-workflow")
def save_workflow(
    episode: Annotated[int, typer.Argument(help="the episode's id (webagent logs shows it)")],
    out: Annotated[Path, typer.Option("--out", help="the workflow file to write")],
    db: DbOpt = None,
) -> None:
    """Save a successful (or finished) episode as a workflow `rerun` can replay without the model."""
    from webagent.workflows import from_steps

    try:
        store = _open(db, create=False)
        row = store.episode(episode)
        if row is None:
            raise WebAgentError(f"no episode {episode} in {store.path}")
        if row["outcome"] not in ("success", "done"):
            raise WebAgentError(
                f"episode {episode} ended {row['outcome']!r}; only a successful or finished one is a workflow"
            )
        workflow = from_steps(row["instruction"], store.steps(episode), source=f"episode {episode} of {store.path}")
        workflow.save(out)
    except WebAgentError as exc:
        _fail(exc)
    for number, step in enumerate(workflow.steps, 1):
        console.print(f"  {number}. {_escape(step.describe())}", highlight=False)
    console.print(f"saved {len(workflow.steps)} steps to {out}")


@app.command()
def rerun(
    ctx: typer.Context,
    workflow_file: Annotated[Path, typer.Argument(help="a workflow saved by save-workflow")],
    url: Annotated[str, typer.Option(help="start page [default: the workflow's]")] = "",
    until_text: Annotated[str | None, typer.Option(help="the task is done when this text appears")] = None,
    until_url: Annotated[
        str | None, typer.Option(help="the task is done when the URL contains this, or matches it as a regex")
    ] = None,
    fallback: Annotated[
        str, typer.Option(help="who decides a step the workflow cannot match: model | ranker | none")
    ] = "model",
    model: ModelOpt = "default",
    adapter: AdapterOpt = "default",
    model_version: VersionOpt = "active",
    memory: MemoryOpt = True,
    threads: ThreadsOpt = 0,
    max_steps: Annotated[int, typer.Option("--max-steps", help="step limit [default: the workflow's steps + 3]")] = 0,
    db: DbOpt = None,
    profile: ProfileOpt = None,
    headful: HeadfulOpt = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    secret: SecretOpt = None,
    secrets_file: SecretsFileOpt = None,
    allow_domain: AllowDomainOpt = None,
    allow_files: AllowFilesOpt = False,
) -> None:
    """Replay a workflow on the same or a changed page: each step's element is matched by
    what it is (role, text, label, heading), not its id; only unmatched steps use the fallback."""
    from webagent.envs.scripted import ScriptedTask
    from webagent.progress import RichReporter
    from webagent.runs import rerun_workflow
    from webagent.workflows import Workflow

    try:
        workflow = Workflow.load(workflow_file)
        if fallback not in ("model", "ranker", "none"):
            raise WebAgentError(f"--fallback must be model, ranker or none, not {fallback!r}")
        start = url or workflow.url
        task = ScriptedTask(start, workflow.instruction, until_text, until_url, name=start)
        secrets = _secrets(secret, secrets_file)
        missing = [n for n in workflow.secret_names if n not in {name for name, _ in secrets}]
        if missing:
            raise WebAgentError(
                f"{workflow_file} types {', '.join('{' + n + '}' for n in missing)}: give --secret NAME=value"
            )
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            policy="ranker" if fallback != "model" else "model",
            model=model,
            model_version=model_version,
            threads=threads,
            adapter=adapter,
            memory=memory and fallback == "model",
            max_steps=max_steps or len(workflow.steps) + 3,
            headful=headful,
            secrets=secrets,
            allow_domain=allow_domain,
            allow_files=allow_files,
        )
        settings.sites.require(start)
        store = _open(db)
        with _interruptible():
            results = rerun_workflow(
                workflow, task, settings, store=store, fallback=fallback != "none", reporter=RichReporter(console)
            )
    except WebAgentError as exc:
        _fail(exc)
    row = next(iter(results["tasks"].values()))["episodes_detail"][0]
    console.print(
        f"→ {row['outcome']}: {results['matched']} of {results['workflow_steps']} steps matched without the model, "
        f"{results['fell_back']} fell back to {fallback}"
    )
    console.print(f"stored in {store.path} (run {results['run_id']})")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))
    if row["outcome"] == "error":
        raise typer.Exit(EXIT_CANNOT_START if row.get("could_not_start") else EXIT_ALL_FAILED)
    _exit_for([row], can_tell=row["can_tell"])


@app.command()
def logs(
    last: Annotated[int, typer.Option(help="how many recent steps")] = 5,
    db: DbOpt = None,
    prompt: Annotated[bool, typer.Option(help="also print each prompt")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """What the agent saw, proposed and did in its most recent steps."""
    try:
        store = _open(db, create=False)
    except WebAgentError as exc:
        _fail(exc)
    rows = store.last_steps(last)
    if json_out:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        console.print(f"no steps in {store.path}")
    for row in rows:
        candidates = row["candidates"] or []
        latency = row["latency"] or {}
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


@app.command()
def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="port to serve the panel on")] = 7860,
    host: Annotated[str, typer.Option(help="interface to listen on (keep it local)")] = "127.0.0.1",
    model: ModelOpt = "default",
    tune: Annotated[str, typer.Option(help="online tuning while you supervise: none | mezo | backprop")] = "none",
    tune_params: TuneParamsOpt = "",
    tune_steps: TuneStepsOpt = 0,
    tune_lr: TuneLrOpt = None,
    memory: Annotated[bool, typer.Option(help="learn exemplars from your verdicts")] = True,
    critic: Annotated[bool, typer.Option(help="a second opinion on each proposal, in its confidence")] = True,
    critic_weight: Annotated[float, typer.Option(help="w in confidence = policy^(1-w) * critic^w")] = 0.5,
    annotators: Annotated[
        int, typer.Option(help="confidence from N simulated annotators' agreement (N more decisions a step; 0: off)")
    ] = 0,
    auto_approve: Annotated[bool, typer.Option(help="start with auto-approval on")] = False,
    alpha: Annotated[float, typer.Option(help="auto-approval: disagreement rate allowed")] = 0.1,
    delta: Annotated[float, typer.Option(help="auto-approval: chance the promise may fail")] = 0.1,
    min_samples: Annotated[int, typer.Option(help="judged steps needed before any auto-approval")] = 30,
    audit: Annotated[float, typer.Option(help="share of would-be auto-approvals still asked (0: none)")] = 0.1,
    audit_window: Annotated[
        int, typer.Option(help="the latest N audits are also tested alone, so a change shows (0: all only)")
    ] = 30,
    top_k: TopKOpt = 10,
    max_steps: StepsOpt = 12,
    db: DbOpt = None,
    profile: ProfileOpt = None,
    headful: HeadfulOpt = False,
    decoding: DecodingOpt = "plain",
    particles: ParticlesOpt = 8,
    draft_model: DraftOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    model_version: VersionOpt = "active",
    shots: ShotsOpt = 3,
    relabel: RelabelOpt = True,
    procedures: ProceduresOpt = True,
    secret: SecretOpt = None,
    secrets_file: SecretsFileOpt = None,
    allow_domain: AllowDomainOpt = None,
    allow_files: AllowFilesOpt = False,
) -> None:
    """The supervision panel (Gradio) on 127.0.0.1: watch, confirm, reject, correct; earn autonomy."""
    from webagent.settings import AgreementSettings, AutonomySettings, CriticSettings, TunerSettings

    try:
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            model=model,
            model_version=model_version,
            decoding=decoding,
            particles=particles,
            draft_model=draft_model,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
            memory=memory,
            shots=shots,
            relabel=relabel,
            procedures=procedures,
            top_k=top_k,
            max_steps=max_steps,
            headful=headful,
            screenshots=True,
            supervisor="person",
            critic=CriticSettings(enabled=critic, weight=critic_weight),
            agreement=AgreementSettings(annotators=annotators),
            tuner=TunerSettings(method=tune, param_set=tune_params, steps=tune_steps, lr=tune_lr),
            autonomy=AutonomySettings(
                enabled=auto_approve,
                alpha=alpha,
                delta=delta,
                min_samples=min_samples,
                audit=audit,
                audit_window=audit_window,
            ),
            secrets=_secrets(secret, secrets_file),
            allow_domain=allow_domain,
            allow_files=allow_files,
        )
        store = _open(db)
        from ui.app import launch

        panel = launch(store, settings, host=host, port=port)
        console.print(f"supervision panel (store {store.path}); Ctrl-C stops it. Open it with its token:")
        console.print(f"    {panel.url}", markup=False, highlight=False, soft_wrap=True)
        panel.wait()
    except WebAgentError as exc:
        _fail(exc)


@app.command()
def optimize(
    ctx: typer.Context,
    task: Annotated[list[str] | None, typer.Option("--task", help="a MiniWoB++ task; repeat for more")] = None,
    tasks_file: Annotated[Path | None, typer.Option(help="file of task names [default: the dev tasks]")] = None,
    budget: Annotated[int, typer.Option(help="trials, the baseline (trial 0) included")] = 12,
    episodes: Annotated[int, typer.Option(help="episodes per task in each trial (the same seeds every trial)")] = 2,
    seed: Annotated[int, typer.Option(help="the trials' first seed")] = 0,
    confirm_episodes: Annotated[
        int, typer.Option(help="per task, on fresh seeds, for the best and the baseline afterwards (0: skip)")
    ] = 5,
    confirm_seed: Annotated[int, typer.Option(help="the fresh seeds' first")] = 5000,
    study: Annotated[
        str, typer.Option(help="the study's name; the best trial is saved as the profile of this name")
    ] = ("optimized"),
    png: Annotated[Path | None, typer.Option(help="success against trials [default: STUDY.png]")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the study here")] = None,
    model: ModelOpt = "default",
    model_version: VersionOpt = "active",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    memory: MemoryOpt = True,
    max_steps: StepsOpt = 12,
    db: DbOpt = None,
    profile: Annotated[str | None, typer.Option(help="start from this profile (it is trial 0)")] = None,
) -> None:
    """Search the agent's settings (webagent.space) for the best success on MiniWoB++ tasks;
    save the best as a profile any command loads with --profile."""
    from webagent.envs.miniwob import DEV_TASKS_FILE, read_task_names
    from webagent.optimize import OptimizeSettings, plot
    from webagent.optimize import optimize as run_study
    from webagent.progress import RichReporter

    try:
        _check_task_names(list(task or []))
        tasks = list(task or []) + (read_task_names(tasks_file) if tasks_file else [])
        tasks = tasks or read_task_names(DEV_TASKS_FILE)
        config = OptimizeSettings(
            tasks=tuple(tasks),
            budget=budget,
            study=study,
            episodes=episodes,
            seed=seed,
            confirm_episodes=confirm_episodes,
            confirm_seed=confirm_seed,
        )
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            model=model,
            model_version=model_version,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
            memory=memory,
            max_steps=max_steps,
        )
        store = _open(db)
        with _interruptible():
            result = run_study(settings, config, store, reporter=RichReporter(console))
    except WebAgentError as exc:
        _fail(exc)
    table = Table(
        title=f"optimize {study}: the best trials of {len(result.trials)} ({config.episodes} episodes per task)"
    )
    for col in ("trial", "success", "settings changed from trial 0"):
        table.add_column(col, justify="left" if col.startswith("settings") else "right")
    for t in result.ranked()[:5]:
        table.add_row(str(t.number), f"{t.success:.1%}", t.changes(result.baseline.params))
    console.print(table)
    if result.confirm:
        best, base = result.confirm["best"], result.confirm["baseline"]
        console.print(
            f"fresh seeds {confirm_seed}.. ({best['episodes']} episodes each): best (trial {best['trial']}) "
            f"{best['success']:.1%}, baseline {base['success']:.1%}"
        )
    png = png or Path(f"{study}.png")
    plot(result, png)
    console.print(f"saved profile {study!r} in {store.path} (use --profile {study}); wrote {png}")
    if json_out:
        json_out.write_text(json.dumps({"settings": settings.record(), **result.record()}, indent=2, default=str))
        console.print(f"wrote {json_out}")


@app.command()
def learn(
    ctx: typer.Context,
    task: Annotated[list[str] | None, typer.Option("--task", help="a MiniWoB++ task; repeat for more")] = None,
    tasks_file: Annotated[Path | None, typer.Option(help="file of task names, one per line")] = None,
    episodes: Annotated[int, typer.Option(help="supervised training episodes per task")] = 50,
    supervisor: Annotated[str, typer.Option(help="oracle (a simulated person) | reward (reward only)")] = "oracle",
    eval_every: Annotated[int, typer.Option(help="evaluate after every N training episodes")] = 10,
    eval_at: Annotated[
        str, typer.Option(help="evaluate after these many training episodes instead, e.g. 10,25,50")
    ] = "",
    eval_seeds: Annotated[int, typer.Option(help="held-out seeds per evaluation")] = 20,
    memory: Annotated[bool, typer.Option(help="learn exemplars (trajectory-as-exemplar memory)")] = True,
    tune: Annotated[str, typer.Option(help="online weight tuning: none | mezo | backprop")] = "none",
    tune_params: TuneParamsOpt = "",
    tune_steps: TuneStepsOpt = 0,
    tune_lr: TuneLrOpt = None,
    shots: Annotated[int, typer.Option(help="exemplars shown per decision")] = 3,
    relabel: RelabelOpt = True,
    procedures: ProceduresOpt = True,
    guard: GuardOpt = False,
    model: ModelOpt = "default",
    top_k: TopKOpt = 10,
    max_steps: StepsOpt = 12,
    seed: Annotated[int, typer.Option(help="seed of the first training episode")] = 0,
    out: Annotated[Path, typer.Option(help="learning curves: OUT.json and OUT.png")] = Path("results/learn"),
    db: DbOpt = None,
    profile: ProfileOpt = None,
    headful: HeadfulOpt = False,
    decoding: DecodingOpt = "plain",
    particles: ParticlesOpt = 8,
    draft_model: DraftOpt = None,
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    model_version: VersionOpt = "active",
    secret: SecretOpt = None,
    secrets_file: SecretsFileOpt = None,
) -> None:
    """Learn from supervision on MiniWoB++ tasks; write learning curves (JSON + PNG)."""
    from webagent.envs.miniwob import read_task_names
    from webagent.learning.driver import CurveSettings, learn_miniwob
    from webagent.learning.plots import plot_curves
    from webagent.progress import RichReporter
    from webagent.settings import TunerSettings
    from webagent.supervision import check_oracles

    try:
        _check_task_names(list(task or []))
        tasks = list(task or []) + (read_task_names(tasks_file) if tasks_file else [])
        if not tasks:
            raise WebAgentError("name a task with --task or a file with --tasks-file")
        curve = CurveSettings(episodes, eval_every, eval_seeds, _episode_counts(eval_at))
        if supervisor not in ("oracle", "reward"):
            raise WebAgentError(f"unknown supervisor {supervisor!r}; choose oracle or reward")
        if supervisor == "oracle":
            check_oracles(tasks)
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            model=model,
            model_version=model_version,
            decoding=decoding,
            particles=particles,
            draft_model=draft_model,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
            memory=memory,
            shots=shots,
            relabel=relabel,
            procedures=procedures,
            guard=guard,
            top_k=top_k,
            max_steps=max_steps,
            seed=seed,
            headful=headful,
            supervisor=supervisor,
            tuner=TunerSettings(method=tune, param_set=tune_params, steps=tune_steps, lr=tune_lr),
            secrets=_secrets(secret, secrets_file),
        )
        store = _open(db)
        with _interruptible():
            results = learn_miniwob(tasks, settings, curve, store=store, reporter=RichReporter(console))
    except WebAgentError as exc:
        _fail(exc)
    table = Table(title=f"learning · supervisor={supervisor} · memory={memory} · tune={tune}")
    for col in ("task", "success before", "success after", "interventions first 10", "last 10"):
        table.add_column(col, justify="right" if col != "task" else "left")
    for name, row in results["summary"]["tasks"].items():
        table.add_row(
            name,
            f"{row['success_before']:.0%}",
            f"{row['success_after']:.0%}",
            f"{row['interventions_first10']:.2f}",
            f"{row['interventions_last10']:.2f}",
        )
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out.with_suffix(".json"), out.with_suffix(".png")
    json_path.write_text(json.dumps(results, indent=2))
    plot_curves(results, png_path, title=f"supervisor={supervisor} memory={memory} tune={tune}")
    console.print(f"wrote {json_path} and {png_path}; stored in {store.path} (run {results['run_id']})")


@app.command()
def replay(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Mind2Web data: a folder with train/, test_task/, ... or one JSON file")],
    split: Annotated[
        list[str] | None, typer.Option("--split", help="test_task | test_website | test_domain | train; repeat")
    ] = None,
    top_k: TopKOpt = 50,
    ranks: Annotated[Path | None, typer.Option(help="MindAct candidate scores (pickle) to rank with")] = None,
    memory: Annotated[Path | None, typer.Option(help="fill exemplar memory from this training split")] = None,
    limit: Annotated[int | None, typer.Option(help="replay only the first N tasks of each split")] = None,
    policy: Annotated[str, typer.Option(help="model | ranker | random | oracle (the gold action)")] = "model",
    model: ModelOpt = "default",
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="record malformed records and go on")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="drop this evaluation's stored steps first")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results here")] = None,
    db: DbOpt = None,
    profile: ProfileOpt = None,
    model_version: VersionOpt = "active",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    relabel: RelabelOpt = True,
) -> None:
    """Replay Mind2Web steps headless and score them as the paper does; a re-run resumes."""
    from webagent.mind2web.replay import run_replay
    from webagent.progress import RichReporter

    try:
        gold = policy == "oracle"
        settings = _settings(
            profile=profile,
            db=db,
            ctx=ctx,
            policy="model" if gold else policy,
            model=model,
            model_version=model_version,
            memory=False,
            relabel=relabel,
            dtype=dtype,
            threads=threads,
            adapter=adapter,
        )
        store = _open(db)
        reporter = RichReporter(console)
        with reporter.running():  # a bar of the bytes read per split
            results = run_replay(
                data,
                split or ["test_task"],
                store=store,
                settings=settings,
                gold=gold,
                top_k=top_k,
                ranks_path=ranks,
                memory_path=memory,
                limit=limit,
                skip_bad=skip_bad,
                restart=restart,
                reporter=reporter,
            )
    except WebAgentError as exc:
        _fail(exc)
    for name, row in results["splits"].items():
        for bad in row["bad_records"]:
            console.print(f"[yellow]skipped[/yellow] {bad}", highlight=False)
        if row["replayed_now"] < row["steps"]:
            console.print(f"{name}: {row['steps'] - row['replayed_now']} steps resumed from the store")
    console.print(results["table"], markup=False, highlight=False, soft_wrap=True)
    console.print(f"stored in {store.path}")
    if json_out:
        json_out.write_text(json.dumps(results, indent=2))
        console.print(f"wrote {json_out}")


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="folder to write SPLIT/SPLIT_0.json into")],
    fmt: Annotated[str, typer.Option("--format", help="mind2web")] = "mind2web",
    split: Annotated[str, typer.Option(help="split name of the written files")] = "train",
    run_id: Annotated[list[int] | None, typer.Option("--run", help="only episodes of this run; repeat")] = None,
    episode: Annotated[list[int] | None, typer.Option("--episode", help="only this episode; repeat")] = None,
    outcome: Annotated[str, typer.Option(help="episodes with this outcome, or 'any'")] = "success",
    json_strings: Annotated[
        bool, typer.Option("--json-strings", help="nested fields as JSON strings, as in the test splits")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Write stored episodes in the Mind2Web format."""
    from webagent.errors import DataError
    from webagent.mind2web.export import export_mind2web

    errors: list[DataError] = []
    try:
        if fmt != "mind2web":
            raise WebAgentError(f"unknown export format {fmt!r}; only mind2web")
        store = _open(db, create=False)
        ids = episode or store.episode_ids(run_ids=run_id, outcome=None if outcome == "any" else outcome)
        paths = export_mind2web(store, out, split=split, episode_ids=ids, json_strings=json_strings, errors=errors)
    except WebAgentError as exc:
        _fail(exc)
    for error in errors:
        console.print(f"[yellow]skipped[/yellow] {error}", highlight=False)
    for path in paths:
        console.print(f"wrote {path}")


@app.command()
def tune(
    method: Annotated[str, typer.Option(help="mezo (forward-only, zeroth-order) | backprop (for comparison)")] = "mezo",
    steps: Annotated[int, typer.Option(help="optimisation steps in this round [default: by parameter set]")] = 0,
    param_set: Annotated[str, typer.Option(help="all | last:N | norms | lora:R | head:R [default: head:8]")] = "",
    lr: Annotated[float | None, typer.Option(help="learning rate [default: the method's]")] = None,
    model: ModelOpt = "default",
    threads: ThreadsOpt = 0,
    adapter: AdapterOpt = "default",
    db: DbOpt = None,
) -> None:
    """One tuning round on the stored feedback, from the active model version; kept only if the guard passes."""
    from webagent.assembly import load_model
    from webagent.learning.tuner import AGENT_PARAM_SET, OnlineTuner, TunerConfig
    from webagent.learning.versions import resolve_version
    from webagent.settings import ModelSettings

    try:
        store = _open(db)
        lm = load_model(ModelSettings(name=model, threads=threads, adapter=adapter), tuned=True)
        active = resolve_version(store, lm.name, "active")
        config = TunerConfig(
            method=method, param_set=param_set or AGENT_PARAM_SET, lr=lr, steps_per_round=steps or None
        )
        tuner = OnlineTuner(lm, store, config)
        if active is not None:
            tuner.rollback(active["version"])  # resume from the version in use
            console.print(f"resumed version {active['version']}")
        with console.status(f"{method} round of {config.round_steps} steps on {config.param_set}…"):
            result = tuner.run_round(force=True)
    except WebAgentError as exc:
        _fail(exc)
    if result is None:
        console.print(f"no feedback to train on in {store.path}")
        return
    verdict = "[green]kept[/green]" if result.kept else "[red]rolled back[/red]"
    console.print(f"version {result.version}: {verdict}")
    console.print(json.dumps(result.metrics, indent=2, default=str))


@app.command()
def models(
    rollback: Annotated[int | None, typer.Option(help="make this stored version the active one")] = None,
    model: ModelOpt = "default",
    db: DbOpt = None,
) -> None:
    """Model versions in the store: how each was made, its guard metrics, which is active."""
    try:
        store = _open(db, create=False)
        if rollback is not None:
            from webagent.assembly import load_model
            from webagent.learning.tuner import OnlineTuner, TunerConfig
            from webagent.settings import ModelSettings

            lm = load_model(ModelSettings(name=model), tuned=True)
            row = next((r for r in store.model_versions(lm.name) if r["version"] == rollback), None)
            if row is None:
                raise WebAgentError(f"no version {rollback} of {lm.name} in {store.path}")
            config = TunerConfig(param_set=row["param_set"]) if row["param_set"] else TunerConfig()
            OnlineTuner(lm, store, config).rollback(rollback)
            console.print(f"version {rollback} rebuilt from its update list and made active")
    except WebAgentError as exc:
        _fail(exc)
    rows = store.model_versions()
    if not rows:
        console.print(f"no model versions in {store.path} yet (they appear when tuning starts)")
        return
    table = Table(title=f"model versions · {store.path}")
    for col in ("model", "version", "status", "method", "params", "updates", "held-back NLL before → after", "created"):
        table.add_column(col)
    for r in rows:
        m = r["metrics"]
        before, after = m.get("holdout_nll_before"), m.get("holdout_nll_after")
        guard = f"{before:.3f} → {after:.3f}" if isinstance(before, float) and isinstance(after, float) else ""
        status = {"active": "[green]active[/green]", "rolled-back": "[red]rolled-back[/red]"}.get(
            r["status"], r["status"]
        )
        table.add_row(
            r["model"],
            str(r["version"]),
            status,
            r["method"],
            r["param_set"],
            str(len(r["updates"])),
            guard,
            r["created"],
        )
    console.print(table)
