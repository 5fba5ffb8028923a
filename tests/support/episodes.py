"""Building an agent over given parts and running one recorded episode: what the
loop tests of policies and supervisors share."""

from webagent.assembly import assemble
from webagent.candidates import HybridRanker
from webagent.settings import AgentSettings, LoopSettings, MemorySettings


def make_agent(store, embedder, policy, supervisor, memory=None):
    settings = AgentSettings(memory=MemorySettings(enabled=memory is not None), loop=LoopSettings(top_k=10))
    ranker = HybridRanker(embedder)
    return assemble(settings, store, ranker=ranker, policy=policy, supervisor=supervisor, memory=memory).agent()


def run_one(agent, env, seed):
    store = agent.observers[0].store  # the recorder's
    run = store.start_run(command="test", policy="p", model="", model_version="", seed=seed, config={})
    env.reset(seed)
    return agent.run_episode(env, run_id=run, task=env.task, seed=seed)
