"""Typed functions the local model implements (after llm-strategy).

    from webagent import strategy

    @strategy
    def triage(ticket_text: str) -> Priority:    # Priority is an Enum
        \"\"\"The priority a maintainer would give this ticket.\"\"\"

    p = triage("Export crashes on empty tables")   # always a Priority
    triage.feedback(p, correct=Priority.HIGH)

The function's body is never run: its name, docstring and arguments are the
request, and its return annotation is the contract. The annotation (an Enum, a
Literal, a dataclass, a pydantic model, a list or dict of those, a str, int,
float or bool) becomes a JSON schema through pydantic, the schema a grammar
through `Online`, so the model can only write a value that parses into the
type, and the result is that type. `feedback` on a result goes through
`Online.judge` into the same store, exemplar memory and tuner as the web
agent's verdicts: a corrected call becomes a demonstration for similar calls.

The model loads on the first call. One function's calls share a memory
namespace (its schema's), so what one function learned never shows up in
another's prompts.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections import deque
from collections.abc import Callable
from typing import Any

from webagent.errors import GrammarError, WebAgentError

RECENT = 256  # results that feedback can still be given on, per function


class Strategy:
    """A function implemented by the local model (see the module docstring)."""

    def __init__(
        self,
        fn: Callable,
        *,
        model="default",
        store=None,
        memory: bool = True,
        shots: int = 3,
        tune: str = "none",
        embedder=None,
        max_tokens: int = 256,
    ) -> None:
        import pydantic

        functools.update_wrapper(self, fn)
        self.fn = fn
        hints = typing.get_type_hints(fn, include_extras=True)
        if "return" not in hints or hints["return"] is type(None):
            raise GrammarError(f"{fn.__qualname__}: a strategy needs a return annotation (the type of its answer)")
        self.returns = hints["return"]
        self.adapter = pydantic.TypeAdapter(self.returns)
        try:
            self.schema = _bounded(self.adapter.json_schema())
        except pydantic.PydanticUserError as exc:
            raise GrammarError(f"{fn.__qualname__}: the return type has no JSON schema ({exc})") from None
        self.signature = inspect.signature(fn)
        self._options = {
            "store": store,
            "memory": memory,
            "shots": shots,
            "tune": tune,
            "embedder": embedder,
            "max_tokens": max_tokens,
        }
        self._model = model
        self._online = None
        self._recent: deque = deque(maxlen=RECENT)  # (result, Online output), newest last

    @property
    def online(self):
        """The `Online` generator behind the function (the model loads on first use)."""
        if self._online is None:
            from webagent.online import Online

            self._online = Online(self.schema, self._model, **self._options)
        return self._online

    def request(self, *args, **kwargs) -> str:
        """What the model reads for one call: the docstring, then each argument by name."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        lines = [inspect.getdoc(self.fn) or self.fn.__name__.replace("_", " "), ""]
        for name, value in bound.arguments.items():
            if name not in ("self", "cls"):
                lines.append(f"{name}: {_shown(value)}")
        return "\n".join(lines)

    def __call__(self, *args, **kwargs):
        online = self.online
        raw = online.generate(self.request(*args, **kwargs))
        try:
            result = self.adapter.validate_python(raw)
        except ValueError as exc:  # the grammar admits a value the type's own checks refuse
            raise GrammarError(
                f"{self.fn.__qualname__}: the model's {raw!r} is not a {_name(self.returns)}: {exc}"
            ) from None
        self._recent.append((result, online.last))
        return result

    def __get__(self, instance, owner=None):
        """As a method: `self` is bound, and is not part of the request."""
        if instance is None:
            return self
        bound = functools.partial(self.__call__, instance)
        bound.feedback = self.feedback  # type: ignore[attr-defined]
        return bound

    def feedback(self, result: Any, *, good: bool | None = None, correct: Any = None) -> None:
        """Judge a result this function returned: `correct=` the right value (of the
        return type), or `good=True` / `good=False` (exactly one)."""
        output = next((out for value, out in reversed(self._recent) if value is result), None)
        if output is None:
            output = next((out for value, out in reversed(self._recent) if value == result), None)
        if output is None:
            raise WebAgentError(f"{self.fn.__qualname__}.feedback: {result!r} is not one of its recent results")
        if correct is not None:
            import pydantic

            try:
                checked = self.adapter.validate_python(correct, strict=True)
            except pydantic.ValidationError:
                raise WebAgentError(
                    f"{self.fn.__qualname__}.feedback: correct={correct!r} is not a {_name(self.returns)}"
                ) from None
            correct = self.adapter.dump_python(checked, mode="json")
        self.online.judge(output, good, correct=correct)


def strategy(fn: Callable | None = None, **options):
    """`@strategy` or `@strategy(model=..., store=..., memory=..., shots=..., tune=...)`."""
    if fn is None:
        return lambda f: Strategy(f, **options)
    return Strategy(fn, **options)


INT_LIMIT = 10**15  # an int without bounds gets these: a small model otherwise writes 1000000000...


def _bounded(schema: Any) -> Any:
    """The schema as the type means it, so that the grammar ends: objects take only
    their declared fields (a dataclass has no others; a small model otherwise goes on
    writing keys), and every unbounded integer is given +-INT_LIMIT."""
    if isinstance(schema, list):
        return [_bounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _bounded(value) for key, value in schema.items()}
    if out.get("type") == "integer":
        out.setdefault("minimum", -INT_LIMIT)
        out.setdefault("maximum", INT_LIMIT)
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def _shown(value: Any) -> str:
    """An argument as the model reads it: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        import pydantic

        return json.dumps(pydantic.TypeAdapter(type(value)).dump_python(value, mode="json"), ensure_ascii=False)
    except Exception:  # noqa: BLE001 - whatever cannot be JSON is shown as Python writes it
        return repr(value)


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
