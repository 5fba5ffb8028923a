"""One error hierarchy, so callers can catch webagent failures without guessing."""


class WebAgentError(Exception):
    """Base of every error webagent raises on purpose."""


class BrowserError(WebAgentError):
    """The browser could not be started, or a page could not be loaded or read."""


class ActionError(WebAgentError):
    """An action could not be executed or did not have its effect."""


class GrammarError(WebAgentError):
    """A grammar could not be built, or text does not parse as an action."""


class ModelError(WebAgentError):
    """A language model could not be found, loaded or run."""


class DataError(WebAgentError):
    """A task file, dataset record or stored row is malformed."""


class StoreError(WebAgentError):
    """The sqlite store could not be opened or migrated."""
