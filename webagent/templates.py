"""Prompt templates live in webagent/prompts/*.jinja; this renders them strictly."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: files("webagent").joinpath("prompts", name).read_text()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(template: str, **context) -> str:
    return _environment().get_template(template).render(**context).strip()
