"""webagent: a local, supervised, self-improving web agent."""


def __getattr__(name: str):
    if name == "Online":  # imported on first use, so `import webagent.x` stays light
        from webagent.online import Online

        return Online
    if name == "strategy":
        from webagent.strategies import strategy

        return strategy
    raise AttributeError(f"module 'webagent' has no attribute {name!r}")
