"""Secrets as placeholders: the agent, its prompts and its store see `{NAME}`, never the value.

A person declares a secret (`--secret NAME=value`, `--secret NAME` to read
`$NAME`, or `--secrets-file FILE` of `NAME=value` lines) and writes `{NAME}` in
the instruction, as browser-use's `sensitive_data` and Stagehand's `variables`
do. The model then only ever reads and writes the placeholder (`TYPE [3]
"{PASSWORD}"`); `reveal_action` puts the real value back only for the one
Playwright call that types it, and whatever comes back from the page (element
values, error messages) is masked again before anyone stores or shows it.

Masking works on values, not on field types, so a password typed into the
wrong field is still masked: every string the store writes goes through
`Secrets.mask` (the store holds the process's `Secrets`), as does every
observation the agent reads. Three more sources of secrets:

- an instruction that gives a password in quotes (`password "hunter2"`, as
  MiniWoB++'s login-user and a person's "log in with password ..." do) declares
  it (`instruction_secrets`), so it is masked before the first prompt;
- an environment may know its own (`env.secrets`);
- a value typed into a password field becomes a secret (`declare_typed`) from
  then on, and the episode's rows written before are redacted.

These last for their episode only (`end_episode` forgets them; what was
stored meanwhile stays masked). Kept for the process, a wrong guess the model
typed into a password field ("text", "the") would be masked in every later
task's instruction and prompt, which then no longer says what to do. What a
person declares lasts for the process.

Values shorter than `SUBSTRING_MIN` characters are masked only where they stand
alone (not inside a longer word), so a two-letter password does not eat every
word that contains those letters; longer ones wherever they occur.
Screenshots are pixels and are not masked.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from webagent.errors import DataError

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SUBSTRING_MIN = 6  # values at least this long are masked inside other text too
TYPED_NAME = "PASSWORD"  # the name a value typed into a password field is given


_PASSWORD_IN_INSTRUCTION = re.compile(r'\bpassword (?:is |of )?"([^"]+)"', re.IGNORECASE)


def instruction_passwords(instruction: str) -> list[str]:
    """What an instruction gives in quotes as a password: the value, or the placeholder
    standing for it once masked (`password "{PASSWORD}"`)."""
    return _PASSWORD_IN_INSTRUCTION.findall(instruction)


def instruction_secrets(instruction: str) -> dict[str, str]:
    """The password an instruction gives in clear, named as `--secret PASSWORD` would
    name it; {} when it gives none (or only a placeholder already)."""
    found = [p for p in instruction_passwords(instruction) if not _is_placeholder(p)]
    return {TYPED_NAME: found[0]} if found else {}


def placeholder(name: str) -> str:
    return "{" + name + "}"


def parse_secret(spec: str, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """`NAME=value`, or `NAME` to take the value from the environment variable NAME."""
    environ = os.environ if environ is None else environ
    name, sep, value = spec.partition("=")
    name = name.strip()
    if not NAME_RE.match(name):
        raise DataError(f"--secret {name!r}: a name is letters, digits and _ (NAME=value, or NAME to read $NAME)")
    if not sep:
        if name not in environ:
            raise DataError(f"--secret {name}: no value given and ${name} is not set")
        value = environ[name]
    if not value:
        raise DataError(f"--secret {name}: the value is empty")
    return name, value


def read_secrets_file(path: str | Path) -> list[tuple[str, str]]:
    """`NAME=value` lines ('#' comments and blank lines skipped), as a .env file holds them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (a secrets file holds NAME=value lines)") from None
    except OSError as exc:
        raise DataError(f"cannot read secrets file {path}: {exc.strerror}") from exc
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise DataError(f"{path}:{number}: not a NAME=value line")
        try:
            name, value = parse_secret(line.removeprefix("export "), environ={})
        except DataError as exc:
            raise DataError(f"{path}:{number}: {exc}") from None
        pairs.append((name, value.strip().strip("'\"")))
    return pairs


class Secrets:
    """The secrets one process knows: name → current value, and every value ever
    declared (all stay masked). Shared by the store and the agents of a process;
    safe to use from several threads."""

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, str] = {}
        self._names: dict[str, str] = {}  # value -> name, for every value ever declared
        self._pattern: re.Pattern[str] | None = None
        self._episode: dict[str, str] = {}  # name -> value declared for the current episode only
        self.version = 0  # grows with every new value (observers redact what was written before)
        for name, value in pairs.items() if isinstance(pairs, Mapping) else pairs:
            self.declare(name, value)

    def __repr__(self) -> str:
        return f"Secrets({', '.join(self.names)})"

    def __bool__(self) -> bool:
        return bool(self._names)

    @property
    def names(self) -> list[str]:
        return sorted(self._current)

    def declare(self, name: str, value: str, *, episode: bool = False) -> str:
        """Know `value` as `{name}` (a name declared again now stands for the new value); the
        placeholder. `episode`: only until `end_episode` (an environment's or a typed secret)."""
        if not NAME_RE.match(name):
            raise DataError(f"secret name {name!r}: letters, digits and _ only")
        if not value:
            raise DataError(f"secret {name}: the value is empty")
        with self._lock:
            known = self._names.get(value)
            if episode and known is not None and known not in self._episode:
                return placeholder(known)  # a person's secret already: it stays theirs, and outlasts the episode
            if episode and self._current.get(name, value) != value and name not in self._episode:
                name = _free(name, self._current)  # a person's secret of that name stays what they said
            self._current[name] = value
            if episode:
                self._episode[name] = value
            if self._names.get(value) != name:
                self._names[value] = name
                self._pattern = None
                self.version += 1
        return placeholder(name)

    def declare_typed(self, value: str) -> bool:
        """A value typed into a password field: a secret for the rest of the episode. True when it was new."""
        if not value or value in self._names or _is_placeholder(value):
            return False
        self.declare(_free(TYPED_NAME, self._current), value, episode=True)
        return True

    def end_episode(self) -> None:
        """Forget the secrets declared for the episode (a person's stay)."""
        with self._lock:
            for name, value in self._episode.items():
                if self._current.get(name) == value:
                    del self._current[name]
                if self._names.get(value) == name:
                    del self._names[value]
            if self._episode:
                self._pattern = None
            self._episode.clear()

    # -- masking ---------------------------------------------------------------
    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._names:
                forms: dict[str, str] = {}
                for value in self._names:
                    forms[value] = value
                    escaped = value.replace("\\", "\\\\").replace('"', '\\"')  # as the DSL writes it
                    forms.setdefault(escaped, value)
                parts = []
                for form in sorted(forms, key=len, reverse=True):
                    body = re.escape(form)
                    parts.append(body if len(form) >= SUBSTRING_MIN else rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])")
                # Placeholders first, so masking twice changes nothing.
                self._pattern = re.compile("|".join([PLACEHOLDER, *parts]))
                self._forms = forms
            return self._pattern

    def mask(self, text: Any) -> Any:
        """`text` with every secret value replaced by its placeholder (non-strings as they are)."""
        if not isinstance(text, str) or not self._names:
            return text
        pattern = self._compiled()
        if pattern is None:
            return text
        return pattern.sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        found = match.group(0)
        value = self._forms.get(found)
        return found if value is None else placeholder(self._names[value])

    def occurs_in(self, text: str) -> bool:
        pattern = self._compiled() if self._names else None
        return bool(pattern) and any(m.group(0) in self._forms for m in pattern.finditer(text))

    def mask_deep(self, value: Any) -> Any:
        """Strings inside dicts, lists and tuples masked (a row before the store encodes it)."""
        if not self._names:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_deep(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.mask_deep(v) for v in value)
        return value

    def reveal(self, text: str) -> str:
        """Placeholders of declared secrets replaced by their values (only for typing them)."""
        if "{" not in text:
            return text
        return re.sub(PLACEHOLDER, lambda m: self._current.get(m.group(0)[1:-1], m.group(0)), text)

    # -- the agent's records ---------------------------------------------------
    def mask_action(self, action):
        if action is None or action.argument is None or not self._names:
            return action
        masked = self.mask(action.argument)
        return action if masked == action.argument else replace(action, argument=masked)

    def reveal_action(self, action):
        if action is None or action.argument is None:
            return action
        revealed = self.reveal(action.argument)
        return action if revealed == action.argument else replace(action, argument=revealed)

    def mask_observation(self, observation):
        """The observation with secret values masked in every element and in its HTML."""
        if not self._names:
            return observation
        blob = "\n".join(
            [observation.url, observation.title, observation.html, observation.last_error or ""]
            + [
                f"{e.text}\n{e.label}\n{e.value}\n{e.placeholder}\n{e.context}\n{e.landmark}\n{e.target}"
                for e in observation.elements
            ]
            + [v for e in observation.elements for _, v in e.attributes]
            + [o for e in observation.elements for o in e.options]
        )
        if not self.occurs_in(blob):
            return observation
        m = self.mask
        elements = tuple(
            replace(
                e,
                text=m(e.text),
                label=m(e.label),
                value=m(e.value),
                placeholder=m(e.placeholder),
                context=m(e.context),
                landmark=m(e.landmark),
                target=m(e.target),
                options=tuple(m(o) for o in e.options),
                selected_option=m(e.selected_option),
                attributes=tuple((k, m(v)) for k, v in e.attributes),
            )
            for e in observation.elements
        )
        return replace(
            observation,
            url=m(observation.url),
            title=m(observation.title),
            html=m(observation.html),
            last_error=m(observation.last_error),
            elements=elements,
        )

    def mask_decision(self, decision):
        if not self._names:
            return decision
        return replace(
            decision,
            action=self.mask_action(decision.action),
            raw_output=self.mask(decision.raw_output),
            prompt=self.mask(decision.prompt),
        )


PLACEHOLDER = r"\{[A-Za-z_][A-Za-z0-9_]*\}"


def _free(name: str, taken: Mapping[str, str]) -> str:
    """`name`, or the first of name_2, name_3, ... that is not taken."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _is_placeholder(text: str) -> bool:
    return bool(re.fullmatch(PLACEHOLDER, text))
