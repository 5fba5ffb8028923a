"""`webagent optimize` and profiles (webagent.optimize).

The loop's logic (baseline first, a repeated configuration not run again, every
trial stored, the best saved as a profile) is checked with a scripted scorer;
the real thing (the default model on a MiniWoB++ task in Chromium, the CLI, a
profile loaded by another command) below it."""

import json

import pytest
from typer.testing import CliRunner

from webagent.cli import app
from webagent.errors import DataError
from webagent.optimize import Evaluator, OptimizeSettings, optimize, plot
from webagent.settings import AgentSettings
from webagent.space import Choice
from webagent.store import Store

runner = CliRunner()
SMALL = (Choice("loop.top_k", (3, 5, 10)), Choice("memory.shots", (0, 3)))


class Scripted:
    """Scores a configuration by a fixed table; counts what it was asked to run."""

    def __init__(self, scores):
        self.scores, self.calls = scores, []

    def __call__(self, params, tasks, *, episodes, seed, reporter):
        self.calls.append((dict(params), seed))
        return self.scores(params), None


def test_the_baseline_is_trial_0_repeats_are_free_and_the_best_becomes_a_profile(store):
    scorer = Scripted(lambda p: 0.9 if p["loop.top_k"] == 3 and p["memory.shots"] == 0 else 0.4)
    config = OptimizeSettings(tasks=("click-button",), budget=6, study="s", confirm_episodes=1)
    study = optimize(AgentSettings(), config, store, evaluator=scorer, space=SMALL)
    assert study.trials[0].params == {"loop.top_k": 10, "memory.shots": 3}  # the defaults, measured first
    assert len(study.trials) == 6 == len({tuple(sorted(t.params.items())) for t in study.trials})  # all 6 points
    assert study.best.params == {"loop.top_k": 3, "memory.shots": 0} and study.best.success == 0.9
    search = [c for c in scorer.calls if c[1] == 0]
    assert len(search) == 6  # none run twice, though TPE proposes points again on a space this small
    rows = store.trials("s")
    assert [r["role"] for r in rows] == ["search"] * 6 + ["confirm-best", "confirm-baseline"]
    assert rows[-1]["params"] == {"loop.top_k": 10, "memory.shots": 3} and rows[-2]["params"] == study.best.params
    assert {c[1] for c in scorer.calls[6:]} == {5000}  # confirmed on fresh seeds
    profile = store.profile("s")
    assert profile["params"] == {"loop.top_k": 3, "memory.shots": 0} and profile["metrics"]["baseline"] == 0.4


def test_a_baseline_outside_the_space_is_measured_anyway_and_a_tie_keeps_it(store, tmp_path):
    from dataclasses import replace

    from webagent.settings import LoopSettings

    base = replace(AgentSettings(), loop=LoopSettings(top_k=7))
    scorer = Scripted(lambda p: 0.5)
    study = optimize(
        base,
        OptimizeSettings(tasks=("click-button",), budget=3, study="t", confirm_episodes=0),
        store,
        evaluator=scorer,
        space=SMALL,
    )
    assert study.trials[0].params["loop.top_k"] == 7 and study.best.number == 0
    assert study.confirm == {} and store.profile("t")["params"]["loop.top_k"] == 7
    plot(study, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_study_settings_are_refused():
    with pytest.raises(DataError, match="at least 2 trials"):
        OptimizeSettings(tasks=("click-button",), budget=1, study="x")
    with pytest.raises(DataError, match="overlap"):
        OptimizeSettings(tasks=("click-button",), budget=3, study="x", episodes=3, seed=4999)
    with pytest.raises(DataError, match="at least one task"):
        OptimizeSettings(tasks=(), budget=3, study="x")


def test_a_real_study_runs_episodes_stores_each_trial_as_a_run(store, default_model, embedder, browser_session):
    evaluator = Evaluator(AgentSettings(), store, model=default_model, embedder=embedder)
    config = OptimizeSettings(tasks=("click-button",), budget=2, study="real", episodes=1, confirm_episodes=0)
    study = optimize(AgentSettings(), config, store, evaluator=evaluator)
    assert len(study.trials) == 2
    for trial in study.trials:
        run = store.run(trial.run_id)
        settings = run["config"]["settings"]
        assert settings["loop"]["top_k"] == trial.params["loop.top_k"]  # the run record is the trial's settings
        assert settings["ranker"]["semantic"] == trial.params["ranker.semantic"]
        episodes = store.run_episodes(trial.run_id)
        assert len(episodes) == 1 and trial.success == (episodes[0]["outcome"] == "success")


@pytest.mark.browser
def test_a_profile_reaches_another_command_and_an_option_given_wins(tmp_path):
    db = tmp_path / "w.db"
    Store(db).save_profile("narrow", {"loop.top_k": 3, "ranker.semantic": 0.0})

    def top_k_of_run(*extra):
        out = tmp_path / "out.json"
        args = ["miniwob", "--task", "click-button", "--episodes", "1", "--policy", "ranker", "--db", str(db)]
        result = runner.invoke(app, [*args, "--profile", "narrow", "--json", str(out), *extra])
        assert result.exit_code == 0, result.output
        settings = json.loads(out.read_text())["settings"]
        return settings["loop"]["top_k"], settings["ranker"]["semantic"]

    assert top_k_of_run() == (3, 0.0)
    assert top_k_of_run("--top-k", "10") == (10, 0.0)  # the command line wins over the profile

    missing = runner.invoke(app, ["miniwob", "--task", "click-button", "--db", str(db), "--profile", "wide"])
    assert missing.exit_code == 2 and "no profile 'wide'" in missing.output and "narrow" in missing.output
    assert "Traceback" not in missing.output
    Store(db).save_profile("broken", {"loop.max_steps": 2})
    broken = runner.invoke(app, ["miniwob", "--task", "click-button", "--db", str(db), "--profile", "broken"])
    assert broken.exit_code == 2 and "not in the search space" in broken.output


@pytest.mark.browser
@pytest.mark.model
def test_the_optimize_command_prints_the_best_writes_png_json_and_saves_the_profile(tmp_path):
    db, png, out = tmp_path / "w.db", tmp_path / "s.png", tmp_path / "s.json"
    args = ["optimize", "--task", "click-button", "--budget", "2", "--episodes", "1", "--confirm-episodes", "1"]
    result = runner.invoke(app, [*args, "--study", "mine", "--db", str(db), "--png", str(png), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        "trial 0" in result.output and "fresh seeds 5000" in result.output and "saved profile 'mine'" in result.output
    )
    assert png.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(out.read_text())
    assert len(data["trials"]) == 2 and data["confirm"]["best"]["episodes"] == 1
    store = Store(db)
    assert store.profile("mine")["params"] == data["best"]["params"]
    assert len(store.trials("mine")) >= 3  # two searched, the best (and the baseline, unless it is the best) confirmed
