"""The Gradio supervision panel: watch, confirm, reject, correct, and let it earn autonomy.

A thin adapter: `ui.render` turns steps into what is shown, `ui.worker` owns the
browser and the agent; this module only builds the Blocks and wires events.
Gradio is imported here and nowhere in `webagent`.

    webagent ui --port 7860          # prints http://127.0.0.1:7860/?token=...; no share link, analytics off
"""

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ui import render
from ui.auth import PanelGuard, new_token
from ui.worker import SessionRequest, SessionWorker, WorkerState, export_episodes, load_history
from webagent.errors import WebAgentError
from webagent.settings import AgentSettings
from webagent.store import Store
from webagent.supervision import CONFIRM, REJECT, Verdict

SOURCES = ("MiniWoB++ task", "URL + instruction", "Task file")
VERB_CHOICES = ("CLICK", "TYPE", "SELECT")
WAIT_SECONDS = 120.0  # how long a button waits for the next proposal before handing back to the timer
SHORTCUTS = """
<script>
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const tag = (target && target.tagName || "").toLowerCase();
  if (["input", "textarea", "select"].includes(tag) || (target && target.isContentEditable)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const id = {y: "wa-confirm", n: "wa-reject"}[event.key];
  const button = id && (document.querySelector(`#${id} button`) || document.getElementById(id));
  if (button) { event.preventDefault(); button.click(); }
});
</script>
"""
CSS = "#wa-proposal {min-height: 5em} #wa-session {font-size: 0.95em}"


def dev_tasks() -> list[str]:
    """The MiniWoB++ dev tasks (shipped in the package, or WEBAGENT_DEV_TASKS) first, then the rest."""
    from webagent.envs.miniwob import DEV_TASKS_FILE, available_tasks, read_task_names

    env = os.environ.get("WEBAGENT_DEV_TASKS")
    dev = read_task_names(Path(env) if env else DEV_TASKS_FILE)
    return dev + [t for t in available_tasks() if t not in dev]


def _session_text(state: WorkerState, owner: str) -> str:
    who = ""
    if state.owner and state.owner != owner and state.phase in ("loading", "running", "waiting"):
        who = " · **driven from another browser tab** (watch here, or take over)"
    episode = f" · run {state.run_id}, episode {state.episode_id}" if state.run_id else ""
    last = state.last_episode
    result = ""
    if last is not None:
        result = f"\n\nLast episode {last['id']}: **{last['outcome']}**, reward {last['reward']}, {last['steps']} steps"
    return f"**{state.phase}** — {state.message}{episode}{who}{result}"


def _plots(store: Store) -> tuple[Any, Any]:
    import pandas as pd

    history = load_history(store, limit=500)
    progress = render.episode_progress(history["episodes"], history["feedback"])
    first = pd.DataFrame(render.plot_rows(progress, ["interventions"]), columns=["episode", "metric", "value"])
    second = pd.DataFrame(render.plot_rows(progress, ["coverage", "success"]), columns=["episode", "metric", "value"])
    return first, second


def build_app(worker: SessionWorker, *, tasks: list[str] | None = None):
    """The panel's Blocks, bound to one worker (one session at a time)."""
    import gradio as gr

    store = worker.store
    tasks = tasks if tasks is not None else dev_tasks()
    autonomy = worker.approver.settings

    def view_outputs(state: WorkerState, owner: str) -> list[Any]:
        view = state.view
        calibration = worker.approver.calibration()
        calibration_text = render.calibration_markdown(
            calibration, worker.approver.settings.enabled, worker.approver.audit(), worker.approver.settings.audit
        )
        model_text = render.model_markdown(worker.model_version, store.model_versions())
        first, second = _plots(store)
        if view is None:
            empty = [gr.update(choices=[], value=None)]
            return [
                _session_text(state, owner),
                "_No proposal yet._",
                None,
                [],
                [],
                *empty,
                calibration_text,
                model_text,
                first,
                second,
                {"version": state.version, "number": state.number},
            ]
        proposed = render.action_target(view["action"])
        image = render.annotate(view.get("screenshot"), view["candidates"], proposed, crop=True)
        choices = [(f"[{c['id']}] {c['text'][:60]}", str(c["id"])) for c in view["candidates"]]
        header = render.proposal_markdown(view)
        if state.phase != "waiting" or not state.number:
            header = "_(not waiting for you)_\n\n" + header
        return [
            _session_text(state, owner),
            header,
            image,
            render.candidate_rows(view["candidates"], proposed),
            render.exemplar_rows(view["exemplars"]),
            gr.update(choices=choices, value=proposed),
            calibration_text,
            model_text,
            first,
            second,
            {"version": state.version, "number": state.number},
        ]

    with gr.Blocks(title="webagent · supervision", analytics_enabled=False) as app:
        tab_state = gr.State({"version": -1, "number": 0})
        gr.Markdown("# webagent · supervision panel")
        with gr.Tabs():
            with gr.Tab("Supervise"):
                with gr.Row():
                    with gr.Column(scale=1, min_width=320):
                        gr.Markdown("### Start a session")
                        source = gr.Radio(list(SOURCES), value=SOURCES[0], label="what to run", elem_id="wa-source")
                        task = gr.Dropdown(
                            tasks, value=tasks[0] if tasks else None, label="MiniWoB++ task", elem_id="wa-task"
                        )
                        with gr.Row():
                            seed = gr.Number(0, precision=0, label="seed", elem_id="wa-seed", minimum=0)
                            episodes = gr.Number(1, precision=0, label="episodes", elem_id="wa-episodes", minimum=1)
                        url = gr.Textbox(label="start URL", elem_id="wa-url")
                        instruction = gr.Textbox(label="instruction", elem_id="wa-instruction")
                        until_text = gr.Textbox(label="done when this text appears (optional)", elem_id="wa-until")
                        task_file = gr.Textbox(label="scripted task file (JSON Lines)", elem_id="wa-task-file")
                        start = gr.Button("Start", variant="primary", elem_id="wa-start")
                        session_md = gr.Markdown("…", elem_id="wa-session")
                        take_over = gr.Button("Take over this session", size="sm", elem_id="wa-take-over")
                        gr.Markdown("### Autonomy")
                        auto = gr.Checkbox(autonomy.enabled, label="auto-approve calibrated steps", elem_id="wa-auto")
                        with gr.Row():
                            alpha = gr.Slider(0.01, 0.5, autonomy.alpha, step=0.01, label="α (disagreement)")
                            delta = gr.Slider(0.01, 0.5, autonomy.delta, step=0.01, label="δ (risk)")
                        calibration_md = gr.Markdown(elem_id="wa-calibration")
                        gr.Markdown("### Learning")
                        model_md = gr.Markdown(elem_id="wa-model")
                    with gr.Column(scale=2):
                        proposal_md = gr.Markdown("_No proposal yet._", elem_id="wa-proposal")
                        with gr.Row():
                            confirm = gr.Button("Confirm (y)", variant="primary", elem_id="wa-confirm")
                            reject = gr.Button("Reject (n)", elem_id="wa-reject")
                            stop = gr.Button("Stop", variant="stop", elem_id="wa-stop")
                        image = gr.Image(
                            label="page (proposed: red; other candidates: blue)",
                            type="pil",
                            interactive=False,
                            elem_id="wa-image",
                            height=420,
                        )
                        with gr.Row():
                            correct_id = gr.Dropdown(
                                [], label="correct: element", elem_id="wa-correct-id", allow_custom_value=True, scale=3
                            )
                            correct_verb = gr.Radio(
                                list(VERB_CHOICES), value="CLICK", label="verb", elem_id="wa-correct-verb", scale=2
                            )
                            correct_text = gr.Textbox(label="text / option", elem_id="wa-correct-text", scale=2)
                            correct = gr.Button("Correct", elem_id="wa-correct", scale=1)
                        candidates = gr.Dataframe(
                            headers=render.CANDIDATE_HEADERS,
                            label="candidates (ranker)",
                            interactive=False,
                            elem_id="wa-candidates",
                            wrap=True,
                        )
                        exemplars = gr.Dataframe(
                            headers=render.EXEMPLAR_HEADERS,
                            label="exemplars retrieved",
                            interactive=False,
                            elem_id="wa-exemplars",
                            wrap=True,
                        )
                with gr.Row():
                    interventions_plot = gr.LinePlot(
                        x="episode",
                        y="value",
                        color="metric",
                        title="interventions per episode (5-episode mean)",
                        elem_id="wa-plot-interventions",
                    )
                    coverage_plot = gr.LinePlot(
                        x="episode",
                        y="value",
                        color="metric",
                        y_lim=[0, 1],
                        title="auto-approval coverage and success (5-episode mean)",
                        elem_id="wa-plot-coverage",
                    )
            with gr.Tab("History"):
                refresh_history = gr.Button("Refresh", elem_id="wa-history-refresh")
                runs_df = gr.Dataframe(headers=render.RUN_HEADERS, label="runs", interactive=False)
                episodes_df = gr.Dataframe(
                    headers=render.EPISODE_HEADERS,
                    label="episodes (click one to view)",
                    interactive=False,
                    elem_id="wa-episodes-table",
                    wrap=True,
                )
                with gr.Row():
                    episode_pick = gr.Number(None, precision=0, label="episode", elem_id="wa-episode-pick")
                    show = gr.Button("Show steps", elem_id="wa-show")
                steps_df = gr.Dataframe(
                    headers=render.STEP_HEADERS, label="steps", interactive=False, elem_id="wa-steps", wrap=True
                )
                gallery = gr.Gallery(
                    label="screenshots (proposed: red, ran instead: green)", columns=3, elem_id="wa-gallery", height=360
                )
                with gr.Row():
                    export_ids = gr.Textbox(label="episodes to export (e.g. 3, 5-7)", elem_id="wa-export-ids")
                    export = gr.Button("Export JSONL", elem_id="wa-export")
                export_file = gr.File(label="export", elem_id="wa-export-file")

        outputs = [
            session_md,
            proposal_md,
            image,
            candidates,
            exemplars,
            correct_id,
            calibration_md,
            model_md,
            interventions_plot,
            coverage_plot,
            tab_state,
        ]

        def owner_of(request: gr.Request) -> str:
            return getattr(request, "session_hash", None) or "anonymous"

        def show_state(state: WorkerState, request: gr.Request, error: str | None = None):
            values = view_outputs(state, owner_of(request))
            if error:
                values[0] = f"⚠ {error}\n\n" + values[0]
            return values

        def on_load(request: gr.Request):
            return show_state(worker.state(), request)

        def on_tick(seen: dict, request: gr.Request):
            state = worker.state()
            if state.version == seen.get("version"):
                return [gr.skip()] * len(outputs)
            return show_state(state, request)

        def on_start(
            kind, task_name, seed_value, n, url_value, instruction_value, until, file_value, request: gr.Request
        ):
            since = worker.state().version
            kinds = dict(zip(SOURCES, ("miniwob", "url", "file"), strict=True))
            try:
                session = SessionRequest(
                    kind=kinds[kind],
                    task=task_name or "",
                    seed=int(seed_value or 0),
                    episodes=int(n or 1),
                    url=(url_value or "").strip(),
                    instruction=(instruction_value or "").strip(),
                    until_text=(until or "").strip() or None,
                    task_file=(file_value or "").strip(),
                )
                worker.start_session(owner_of(request), session)
            except WebAgentError as exc:
                return show_state(worker.state(), request, str(exc))
            return show_state(worker.wait_for_change(since, WAIT_SECONDS), request)

        def answer(verdict_for, seen: dict, request: gr.Request, *args):
            since = worker.state().version
            number = seen.get("number") or 0
            try:
                if not number:
                    raise WebAgentError("nothing is waiting for a verdict")
                verdict = verdict_for(number, *args)
                worker.post(owner_of(request), number, verdict)
            except WebAgentError as exc:
                return show_state(worker.state(), request, str(exc))
            return show_state(worker.wait_for_change(since, WAIT_SECONDS), request)

        def on_confirm(seen: dict, request: gr.Request):
            return answer(lambda number: CONFIRM, seen, request)

        def on_reject(seen: dict, request: gr.Request):
            return answer(lambda number: REJECT, seen, request)

        def on_correct(seen: dict, element_id, verb, text, request: gr.Request):
            from ui.worker import correction

            def verdict_for(number):
                proposal = worker.pending_proposal(number)
                action = correction(proposal, element_id or "", verb, text)
                # "correcting" to the very action proposed is agreeing with it
                return CONFIRM if action == proposal.decision.action else Verdict("correct", action)

            return answer(verdict_for, seen, request)

        def on_stop(request: gr.Request):
            since = worker.state().version
            try:
                worker.stop(owner_of(request))
            except WebAgentError as exc:
                return show_state(worker.state(), request, str(exc))
            return show_state(worker.wait_for_change(since, 30.0), request)

        def on_take_over(request: gr.Request):
            worker.take_over(owner_of(request))
            return show_state(worker.state(), request)

        def on_autonomy(enabled, alpha_value, delta_value, request: gr.Request):
            try:
                worker.configure_autonomy(enabled=bool(enabled), alpha=float(alpha_value), delta=float(delta_value))
            except WebAgentError as exc:
                return show_state(worker.state(), request, str(exc))
            return show_state(worker.state(), request)

        def history():
            data = load_history(store)
            by_episode: dict[int, list[dict]] = {}
            for row in data["feedback"]:
                by_episode.setdefault(row["episode_id"], []).append(row)
            return render.run_rows(data["runs"]), render.episode_rows(reversed(data["episodes"]), by_episode)

        def steps_of(episode_id):
            if episode_id is None:
                return [], []
            steps = store.steps(int(episode_id))
            rows = render.step_rows(steps, store.feedback(episode_id=int(episode_id)))
            return rows, render.gallery_items(steps, store.path.parent)

        def on_pick(event: gr.SelectData, table):
            row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
            try:
                episode_id = int(table.iloc[row, 0])
            except (ValueError, IndexError, AttributeError):
                return gr.skip(), [], []
            return (episode_id, *steps_of(episode_id))

        def on_export(ids_text):
            try:
                ids = render.parse_ids(ids_text)
                if not ids:
                    raise WebAgentError("name the episodes to export, e.g. 3, 5-7")
                folder = Path(tempfile.mkdtemp(prefix="webagent-export-"))
                path = export_episodes(store, ids, folder / f"episodes-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
            except (ValueError, WebAgentError) as exc:
                gr.Warning(str(exc))
                return None
            return str(path)

        app.load(on_load, None, outputs)
        gr.Timer(1.0).tick(on_tick, [tab_state], outputs, show_progress="hidden")
        start.click(on_start, [source, task, seed, episodes, url, instruction, until_text, task_file], outputs)
        confirm.click(on_confirm, [tab_state], outputs)
        reject.click(on_reject, [tab_state], outputs)
        correct.click(on_correct, [tab_state, correct_id, correct_verb, correct_text], outputs)
        stop.click(on_stop, None, outputs)
        take_over.click(on_take_over, None, outputs)
        for control in (auto, alpha, delta):
            control.change(on_autonomy, [auto, alpha, delta], outputs)
        app.load(history, None, [runs_df, episodes_df])
        refresh_history.click(history, None, [runs_df, episodes_df])
        show.click(steps_of, [episode_pick], [steps_df, gallery])
        episodes_df.select(on_pick, [episodes_df], [episode_pick, steps_df, gallery])
        export.click(on_export, [export_ids], [export_file])
    return app


class Panel:
    """The panel being served: `url` carries the launch's token; `close()` stops the server and the worker."""

    def __init__(self, server, thread: threading.Thread, url: str, token: str, worker: SessionWorker | None):
        self._server = server
        self._thread = thread
        self.url = url
        self.token = token
        self.worker = worker

    def wait(self) -> None:
        """Block until Ctrl-C (or the server stops), then close."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self.worker is not None:
            self.worker.close()


def serve(blocks, *, host: str = "127.0.0.1", port: int = 7860, token: str | None = None, worker=None) -> Panel:
    """Serve the Blocks on host:port behind `ui.auth.PanelGuard` (a fresh token unless given), in a thread."""
    import fastapi
    import gradio as gr
    import uvicorn

    token = token or new_token()
    root = fastapi.FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    root = gr.mount_gradio_app(
        root, blocks, path="/", server_name=host, server_port=port, footer_links=[], show_error=True,
        head=SHORTCUTS, css=CSS,
    )  # fmt: skip
    guarded = PanelGuard(root, token=token, port=port, hosts=tuple(dict.fromkeys((host, "127.0.0.1", "localhost"))))

    class Server(uvicorn.Server):
        def install_signal_handlers(self) -> None:  # the caller's thread owns the signals
            pass

    config = uvicorn.Config(guarded, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = Server(config)
    thread = threading.Thread(target=server.run, name="webagent-ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise WebAgentError(f"the panel could not listen on {host}:{port} (is the port in use?)")
        time.sleep(0.01)
    return Panel(server, thread, f"http://{host}:{port}/?token={token}", token, worker)


def launch(
    store: Store,
    settings: AgentSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    model=None,
    tasks: list[str] | None = None,
    token: str | None = None,
) -> Panel:
    """Start the worker and serve the panel on host:port (no share link, analytics off), behind a
    per-launch token (`Panel.url`). Returns at once; `Panel.wait()` blocks, `Panel.close()` stops."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    worker = SessionWorker(store, settings, model=model).start()
    try:
        app = build_app(worker, tasks=tasks)
        app.queue(default_concurrency_limit=4)
        return serve(app, host=host, port=port, token=token, worker=worker)
    except BaseException:
        worker.close()
        raise
