"""Read Mind2Web files as published, one task at a time.

The training files are JSON lists of tasks; the test splits (test_task,
test_website, test_domain) come as the same lists, but some nested fields
(`actions`, `operation`, the candidate lists or single candidates) arrive as
JSON strings, and a candidate's `attributes` is always one. Every nested field
is accepted in either form.

The files are hundreds of megabytes (each step carries its raw HTML), so they
are streamed: `json.JSONDecoder.raw_decode` reads one task from a growing
buffer, and the buffer is cut after each task. A record that is not valid JSON,
or lacks a field, gets a DataError naming the file, the task and the step;
with `skip_bad` it is collected and reading goes on.
"""

from __future__ import annotations

import codecs
import json
import pickle
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from webagent.errors import DataError
from webagent.mind2web.records import OPS, ActionStep, CandidateRecord, Operation, Task
from webagent.progress import Reporter

CHUNK_BYTES = 1 << 20
SPLITS = ("train", "test_task", "test_website", "test_domain")
_SEPARATORS = re.compile(r"[\s,]*")

# -- files ---------------------------------------------------------------------


def _natural(path: Path) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def split_files(data: str | Path, split: str) -> list[Path]:
    """The files of one split: DATA itself when it is a file, else DATA/SPLIT/*.json
    (or DATA/data/SPLIT, the dataset's own layout), in natural order (train_2 before train_10)."""
    data = Path(data)
    if data.is_file():
        return [data]
    for folder in (data / split, data / "data" / split):
        if folder.is_dir():
            files = sorted((p for p in folder.iterdir() if p.suffix in (".json", ".jsonl")), key=_natural)
            if not files:
                raise DataError(f"{folder} has no .json files")
            return files
    if data.is_dir() and data.name == split:
        return split_files(data.parent, split)
    raise DataError(f"no split {split!r} under {data}: expected {data / split}/*.json")


# -- streaming JSON ---------------------------------------------------------------


def _skip_value(buf: str, pos: int) -> int:
    """Where the JSON value starting at `pos` ends, by brackets and strings alone
    (used only to step over a value that does not parse); len(buf) if it never does."""
    depth, i, n = 0, pos, len(buf)
    while i < n:
        ch = buf[i]
        if ch == '"':
            i += 1
            while i < n and buf[i] != '"':
                i += 2 if buf[i] == "\\" else 1
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth <= 0:
                return i + 1
        elif depth == 0 and ch in ",\n":
            return i
        i += 1
    return n


def iter_json_values(
    path: str | Path, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (index, value, None) for each element of the file's top-level array
    (or each value of a file of concatenated values, e.g. JSON Lines), and
    (index, None, why) for one that is not valid JSON, then go on after it."""
    path = Path(path)
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buf, pos, offset, index = "", 0, 0, 0
    eof, started, in_array = False, False, False
    with path.open("rb") as fh:

        def fill(size: int) -> None:
            nonlocal buf, eof
            data = fh.read(size)
            if on_bytes and data:
                on_bytes(len(data))
            if not data:
                eof = True
                buf += utf8.decode(b"", final=True)
            else:
                buf += utf8.decode(data)

        while True:
            pos = _SEPARATORS.match(buf, pos).end()
            if pos >= len(buf):
                if eof:
                    if in_array:
                        yield index, None, "the file ends before the list's closing ]"
                    return
                fill(CHUNK_BYTES)
                continue
            if not started:
                started = True
                if buf[pos] == "[":
                    in_array, pos = True, pos + 1
                    continue
            if in_array and buf[pos] == "]":
                return
            try:
                value, end = decoder.raw_decode(buf, pos)
                if end == len(buf) and not eof and not isinstance(value, dict | list):
                    raise json.JSONDecodeError("a scalar may go on in the next chunk", buf, end)
            except json.JSONDecodeError as exc:
                if not eof:  # most likely the value goes on past the buffer: read more
                    fill(max(CHUNK_BYTES, len(buf) - pos))
                    continue
                end = max(_skip_value(buf, pos), pos + 1)
                yield index, None, f"not valid JSON at character {offset + exc.pos} ({exc.msg})"
                index, pos = index + 1, end
                continue
            yield index, value, None
            index, pos = index + 1, end
            if pos > CHUNK_BYTES and pos > len(buf) // 2:  # drop what is read, without copying every time
                buf, offset, pos = buf[pos:], offset + pos, 0


# -- records ----------------------------------------------------------------------


class _Where:
    """Names a place in the data for error messages: file, task, step."""

    def __init__(self, source: str, index: int) -> None:
        self.source, self.index = source, index
        self.annotation_id: str | None = None
        self.step: int | None = None

    def error(self, message: str) -> DataError:
        where = f"{self.source}: task #{self.index}"
        if self.annotation_id:
            where += f" ({self.annotation_id})"
        if self.step is not None:
            where += f", step {self.step}"
        return DataError(f"{where}: {message}")


def _decoded(value: Any, kind: type, name: str, where: _Where) -> Any:
    """A nested field, whether it arrives as itself or as a JSON string of itself."""
    if isinstance(value, str) and kind is not str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise where.error(f"{name} is a string that is not valid JSON ({exc.msg})") from exc
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # ids written as numbers
    if not isinstance(value, kind):
        raise where.error(f"{name} should be a {kind.__name__}, got {type(value).__name__}")
    return value


def _get(obj: dict, name: str, kind: type, where: _Where, default: Any = ...) -> Any:
    if name not in obj or obj[name] is None:
        if default is ...:
            raise where.error(f"missing field {name!r}")
        return default
    return _decoded(obj[name], kind, name, where)


def _candidate(raw: Any, name: str, where: _Where) -> CandidateRecord:
    raw = _decoded(raw, dict, name, where)
    attributes = _get(raw, "attributes", dict, where, {})
    node_id = raw.get("backend_node_id", attributes.get("backend_node_id"))
    if node_id is None:
        raise where.error(f"a candidate in {name} has no backend_node_id")
    return CandidateRecord(
        backend_node_id=_decoded(node_id, str, "backend_node_id", where),
        tag=_get(raw, "tag", str, where),
        attributes=tuple((str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in attributes.items()),
        is_original_target=bool(raw.get("is_original_target", False)),
        is_top_level_target=bool(raw.get("is_top_level_target", False)),
    )


def _step(raw: Any, repr_: str, where: _Where, keep_raw_html: bool) -> ActionStep:
    raw = _decoded(raw, dict, "action", where)
    operation = _get(raw, "operation", dict, where)
    op = _get(operation, "op", str, where).upper()
    if op not in OPS:
        raise where.error(f"unknown operation {op!r}; expected one of {', '.join(OPS)}")
    return ActionStep(
        action_uid=_get(raw, "action_uid", str, where),
        cleaned_html=_get(raw, "cleaned_html", str, where),
        operation=Operation(
            op=op,
            original_op=_get(operation, "original_op", str, where, op),
            value=_get(operation, "value", str, where, ""),
        ),
        pos_candidates=tuple(_candidate(c, "pos_candidates", where) for c in _get(raw, "pos_candidates", list, where)),
        neg_candidates=tuple(
            _candidate(c, "neg_candidates", where) for c in _get(raw, "neg_candidates", list, where, [])
        ),
        raw_html=_get(raw, "raw_html", str, where, "") if keep_raw_html else "",
        repr=repr_,
    )


def parse_task(raw: Any, *, source: str = "<data>", index: int = 0, keep_raw_html: bool = False) -> Task:
    """One task record as a Task, or a DataError that names the file, task and step."""
    where = _Where(source, index)
    raw = _decoded(raw, dict, "task", where)
    where.annotation_id = _get(raw, "annotation_id", str, where)
    actions = _get(raw, "actions", list, where)
    reprs = [str(r) for r in _get(raw, "action_reprs", list, where)]
    if len(reprs) != len(actions):
        raise where.error(f"{len(actions)} actions but {len(reprs)} action_reprs")
    if not actions:
        raise where.error("no actions")
    steps = []
    for i, (action, repr_) in enumerate(zip(actions, reprs, strict=True)):
        where.step = i
        steps.append(_step(action, repr_, where, keep_raw_html))
    where.step = None
    return Task(
        annotation_id=where.annotation_id,
        website=_get(raw, "website", str, where),
        domain=_get(raw, "domain", str, where, ""),
        subdomain=_get(raw, "subdomain", str, where, ""),
        confirmed_task=_get(raw, "confirmed_task", str, where),
        action_reprs=tuple(reprs),
        actions=tuple(steps),
        source=source,
    )


def iter_tasks(
    files: Iterable[str | Path],
    *,
    skip_bad: bool = False,
    errors: list[DataError] | None = None,
    keep_raw_html: bool = False,
    reporter: Reporter | None = None,
) -> Iterator[Task]:
    """Stream the tasks of these files, reporting the bytes read to `reporter`.
    A bad record raises, or with `skip_bad` goes into `errors`."""
    files = [Path(f) for f in files]
    for f in files:
        if not f.is_file():
            raise DataError(f"no such data file: {f}")
    reporter = reporter or Reporter()
    reporter.start(sum(f.stat().st_size for f in files), "reading")
    for f in files:
        reporter.describe(f"reading {f.name}")
        for index, value, why in iter_json_values(f, on_bytes=reporter.advance):
            try:
                if why is not None:
                    raise _Where(str(f), index).error(why)
                yield parse_task(value, source=str(f), index=index, keep_raw_html=keep_raw_html)
            except DataError as exc:
                if not skip_bad:
                    raise
                if errors is not None:
                    errors.append(exc)


# -- MindAct candidate ranks ------------------------------------------------------------


class _SafeUnpickler(pickle.Unpickler):
    """A score file is data: allow containers, numbers and numpy scalars, nothing that runs code."""

    ALLOWED = {
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "float"),
        ("builtins", "int"),
        ("builtins", "str"),
        ("collections", "defaultdict"),
        ("collections", "OrderedDict"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a score file")
        return super().find_class(module, name)


def load_ranks(path: str | Path) -> dict[str, dict[str, int]]:
    """MindAct's candidate scores as ranks (0 = best): {"{annotation_id}_{action_uid}": {backend_node_id: rank}}.

    Reads MindAct's own output ({"scores": ..., "ranks": ...}) or a plain mapping of scores."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = _SafeUnpickler(fh).load()
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise DataError(f"cannot read the candidate scores in {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a dict keyed by '{{annotation_id}}_{{action_uid}}'")
    if isinstance(data.get("ranks"), dict):
        return {str(s): {str(n): int(r) for n, r in per.items()} for s, per in data["ranks"].items()}
    scores = data["scores"] if isinstance(data.get("scores"), dict) else data
    ranks = {}
    for sample, per in scores.items():
        if not isinstance(per, dict):
            raise DataError(f"{path}: scores of {sample!r} should map backend_node_id to a score")
        order = sorted(per, key=lambda n: float(per[n]), reverse=True)
        ranks[str(sample)] = {str(n): r for r, n in enumerate(order)}
    return ranks
