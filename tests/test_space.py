"""The search space over the agent's settings (webagent.space): pure, no browser, no model."""

import pytest

from webagent import space
from webagent.errors import DataError
from webagent.kinds import Decoding
from webagent.settings import AgentSettings


def test_the_defaults_are_a_point_of_the_space_and_particles_count_only_under_smc():
    params = space.current(AgentSettings())
    assert params["loop.top_k"] == 10 and params["model.decoding"] == "plain"
    assert "model.particles" not in params  # conditional on SMC
    for choice in space.SPACE:
        if choice.path in params:
            assert params[choice.path] in choice.values, choice.path
    smc = space.apply(AgentSettings(), {"model.decoding": "smc"})
    assert space.current(smc)["model.particles"] == 8


def test_apply_sets_dotted_paths_through_the_layers_checks():
    settings = space.apply(
        AgentSettings(), {"loop.top_k": 5, "ranker.semantic": 0.0, "model.decoding": "smc", "memory.shots": 0}
    )
    assert settings.loop.top_k == 5 and settings.ranker.semantic == 0.0 and settings.memory.shots == 0
    assert settings.model.decoding is Decoding.SMC  # the layer parsed it
    assert AgentSettings().loop.top_k == 10  # frozen: the defaults are untouched
    with pytest.raises(DataError, match="top-k must be at least 1"):
        space.apply(AgentSettings(), {"loop.top_k": 0})
    with pytest.raises(DataError, match="unknown setting 'loop.nope'"):
        space.apply(AgentSettings(), {"loop.nope": 1})
    with pytest.raises(DataError, match="prompt variant"):
        space.apply(AgentSettings(), {"model.prompt": "fancy"})


def test_a_profile_may_name_only_paths_and_values_of_the_space():
    space.check({"loop.top_k": 5, "memory.relabel": False})
    with pytest.raises(DataError, match="not in the search space"):
        space.check({"loop.max_steps": 3})
    with pytest.raises(DataError, match="allowed"):
        space.check({"loop.top_k": 7})
