"""Typed functions and `Online` learning from feedback, on two labelled sets made here.

    python scripts/bench_strategy.py --generate     # (re)write both sets under datasets/choice/ (fixed seed)
    python scripts/bench_strategy.py                # which: accuracy on the test split before and after feedback
    python scripts/bench_strategy.py --set triage   # triage(ticket_text) -> Priority, the same measurement

`which` (datasets/choice/which.jsonl): "Which of these is a fruit?" with four
options, one from the asked category and three from others, for ten categories
of everyday words. Each category's words are split in half: the right answers of
the test questions never occur as right answers in the training questions, so
what feedback can teach is the kind of question, not the answer to one.

`triage` (datasets/choice/triage.jsonl): the README's example, a team's ticket
priorities. Tickets come from 15 kinds of report (five per priority: crashes,
data loss and leaks are high; slowness and wrong results medium; typos, layout
and wishes low), each written about one of 16 product areas and one situation.
What feedback can teach is the team's convention for each kind of report, which
the model cannot know beforehand: the test tickets are about the 8 areas that
no training ticket mentions.

The measurement, on the real default model (raw: the web adapter knows actions,
not this): the `@strategy` function `which(question, options) -> Literal[...]`
answers every test question; then it answers every training question and gets
feedback as a person would give it (the right letter, `correct=`; a right
answer confirmed); then the test split again. Memory holds the corrected
training calls; nothing is tuned, unless `--tune backprop|mezo`: then the online
tuner also trains on the feedback as it arrives (rounds in the background, each
kept only if held-back feedback's loss does not rise), and `--rounds N` more
rounds on the whole buffer follow before the test (`--shots 0` leaves memory
out, to see the tuner alone). Output: a table and results/strategy-*.json.
"""

from __future__ import annotations

import argparse
import enum
import json
import random
import sys
import time
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "datasets" / "choice" / "which.jsonl"
LETTERS = ("a", "b", "c", "d")
WORDS = {
    "fruit": "apple banana cherry mango pear plum peach grape lemon melon kiwi apricot",
    "tool": "hammer wrench saw drill chisel pliers screwdriver shovel rake axe trowel file",
    "musical instrument": "violin piano guitar flute trumpet drum cello harp clarinet oboe banjo tuba",
    "animal": "horse tiger rabbit wolf elephant giraffe otter badger camel zebra moose fox",
    "vehicle": "car bicycle truck bus tractor scooter tram van motorcycle lorry taxi canoe",
    "colour": "red green blue yellow purple orange violet crimson teal magenta beige indigo",
    "body part": "elbow knee ankle wrist shoulder finger thumb chin forehead heel ear nose",
    "country": "France Japan Brazil Kenya Canada Norway Peru Egypt India Chile Spain Italy",
    "piece of furniture": "chair table sofa wardrobe bed desk stool bench bookcase dresser cabinet armchair",
    "drink": "coffee tea juice lemonade cocoa milk water cider smoothie espresso latte soda",
}


TRIAGE = ROOT / "datasets" / "choice" / "triage.jsonl"
KINDS = {
    "high": (
        "{area} crashes when {when}",
        "{area} deletes the saved records when {when}",
        "{area} shows other customers' data when {when}",
        "{area} returns error 500 for everyone when {when}",
        "Passwords appear in clear text in {area} when {when}",
    ),
    "medium": (
        "{area} takes over a minute to load when {when}",
        "{area} shows the wrong total when {when}",
        "{area} ignores the date filter when {when}",
        "{area} sometimes times out when {when}",
        "{area} sends the notification twice when {when}",
    ),
    "low": (
        "Typo in the help text of {area} when {when}",
        "The buttons of {area} are misaligned when {when}",
        "Please add a dark theme to {area}, mostly used when {when}",
        "The tooltip in {area} is cut off when {when}",
        "The icon of {area} has the wrong colour when {when}",
    ),
}
AREAS = (
    "the CSV export", "the login page", "the search page", "the settings page",
    "the dashboard", "the invoice list", "the file upload", "the calendar",
    "the monthly report", "the user profile", "the billing page", "the comment box",
    "the mobile sync", "the admin panel", "the checkout", "the audit log",
)  # fmt: skip
WHEN = (
    "the table is empty", "a file is larger than 10 MB", "two people edit at once",
    "the session has expired", "the date is in the past", "a name has an accent",
)  # fmt: skip


def generate_triage(seed: int = 0, per_priority: int = 20) -> list[dict]:
    """Tickets for `triage`: the first half of the (shuffled) areas for training, the rest for testing."""
    rng = random.Random(seed)
    areas = list(AREAS)
    rng.shuffle(areas)
    rows = []
    for split, split_areas in (("train", areas[:8]), ("test", areas[8:])):
        for priority, kinds in KINDS.items():
            for i in range(per_priority):
                ticket = kinds[i % len(kinds)].format(area=rng.choice(split_areas), when=rng.choice(WHEN))
                rows.append({"split": split, "ticket": ticket[0].upper() + ticket[1:], "priority": priority})
    rng.shuffle(rows)
    return rows


def generate(seed: int = 0, per_category: int = 6) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for category, words in WORDS.items():
        words = words.split()
        rng.shuffle(words)
        half = len(words) // 2
        for split, answers in (("train", words[:half]), ("test", words[half:])):
            for answer in answers[:per_category]:
                others = [c for c in WORDS if c != category]
                distractors = [rng.choice(WORDS[c].split()) for c in rng.sample(others, 3)]
                options = [answer, *distractors]
                rng.shuffle(options)
                rows.append(
                    {
                        "split": split,
                        "question": f"Which of these is a {category}?",
                        "options": options,
                        "answer": LETTERS[options.index(answer)],
                    }
                )
    return rows


class Priority(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def make_set(name: str, answer: str, model, store, shots: int, tune: str):
    """(data file, the strategy, ask(row) -> its answer, right(row) -> the right answer, title)."""
    from webagent.strategies import strategy

    decorate = strategy(model=model, store=store, shots=shots, tune=tune)
    if name == "triage":

        @decorate
        def triage(ticket_text: str) -> Priority:
            """The priority our team gives this ticket."""

        return (
            TRIAGE,
            triage,
            lambda r: triage(r["ticket"]),
            lambda r: Priority(r["priority"]),
            "triage(ticket) -> Priority",
        )
    if answer == "letter":

        @decorate
        def which(question: str, options: dict[str, str]) -> Literal["a", "b", "c", "d"]:
            """Answer the multiple-choice question with the letter of the right option."""

        def ask(row):
            return which(row["question"], dict(zip(LETTERS, row["options"], strict=True)))

        return DATA, which, ask, lambda r: r["answer"], "which(question, options) -> letter"

    @decorate
    def which(question: str, options: list[str]) -> str:
        """Answer the multiple-choice question with the right option, word for word."""

    def right(row):
        return row["options"][LETTERS.index(row["answer"])]

    return DATA, which, lambda r: which(r["question"], r["options"]), right, "which(question, options) -> word"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--set", choices=("which", "triage"), default="which", help="the labelled set")
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument(
        "--answer",
        choices=("letter", "word"),
        default="word",
        help="which: the function returns the letter or the option",
    )
    parser.add_argument("--out", type=Path, default=None, help="default: results/strategy-{ANSWER|triage}.json")
    parser.add_argument("--db", type=Path, default=None, help="store (default: a fresh temporary one)")
    parser.add_argument("--tune", choices=("none", "mezo", "backprop"), default="none")
    parser.add_argument("--rounds", type=int, default=0, help="tuner rounds on all the feedback before the test")
    args = parser.parse_args()
    args.out = args.out or ROOT / "results" / f"strategy-{'triage' if args.set == 'triage' else args.answer}.json"
    if args.generate:
        for path, rows in ((DATA, generate()), (TRIAGE, generate_triage())):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            print(f"wrote {path}")
        return

    import tempfile

    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    from webagent.models.transformers_lm import TransformersModel
    from webagent.store import Store

    db = args.db or Path(tempfile.mkdtemp()) / "strategy.db"
    store = Store(db)
    model = TransformersModel("default", adapter="none", dtype="float32" if args.tune != "none" else "auto")
    data, fn, ask, right, title = make_set(args.set, args.answer, model, store, args.shots, args.tune)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    chance = 1 / 3 if args.set == "triage" else 1 / len(LETTERS)

    def accuracy(split, label):
        return sum(ask(r) == right(r) for r in track(split, description=label)) / len(split)

    started = time.perf_counter()
    before = accuracy(test, "test, before")
    right_in_training = 0
    for row in track(train, description="training with feedback"):
        answer = ask(row)
        right_in_training += answer == right(row)
        if answer == right(row):
            fn.feedback(answer, good=True)
        else:
            fn.feedback(answer, correct=right(row))
    tuner = fn.online.tuner
    rounds = []
    if tuner is not None:
        tuner.wait_idle()
        for _ in track(range(args.rounds), description="tuner rounds"):
            result = tuner.run_round(force=True)
            rounds.append(None if result is None else {"version": result.version, "kept": result.kept})
    after = accuracy(test, "test, after")
    results = {
        "data": str(data.relative_to(ROOT)),
        "function": title,
        "train": len(train),
        "test": len(test),
        "shots": args.shots,
        "answer": args.answer if args.set == "which" else "Priority",
        "model": "SmolLM2-135M-Instruct (raw)",
        "test_accuracy_before": before,
        "train_accuracy_while_learning": right_in_training / len(train),
        "test_accuracy_after": after,
        "chance": chance,
        "memory": len(fn.online.memory) if fn.online.memory is not None else 0,
        "tune": args.tune,
        "extra_rounds": rounds,
        "model_versions": [{k: v[k] for k in ("version", "status", "metrics")} for v in store.model_versions()],
        "feedback_rows": len(store.feedback()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    table = Table(title=f"{title} · {len(test)} test calls")
    for col in ("before feedback", "after feedback", "chance", "feedback given"):
        table.add_column(col, justify="right")
    table.add_row(f"{before:.0%}", f"{after:.0%}", f"{chance:.0%}", str(len(train)))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
