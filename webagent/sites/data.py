"""Generated seed data and task variants for the site suite (fixed seed).

python scripts/sites.py generate     # rewrites datasets/sites/seed.json and tasks.jsonl
"""

from __future__ import annotations

import json
import random
from pathlib import Path

DATASET_DIR = Path(__file__).resolve().parents[2] / "datasets" / "sites"
SEED_FILE = DATASET_DIR / "seed.json"
TASKS_FILE = DATASET_DIR / "tasks.jsonl"

FIRST = ["Ada", "Boris", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko", "Luis"]
LAST = ["Marlow", "Okafor", "Lindqvist", "Pereira", "Novak", "Haddad", "Brennan", "Sato", "Moreau", "Kowalski"]
ADJ = ["Silent", "Crimson", "Hidden", "Broken", "Golden", "Frozen", "Distant", "Hollow", "Burning", "Quiet", "Wild"]
NOUN = ["Harbor", "Orchard", "Lantern", "Compass", "Meadow", "Tower", "River", "Engine", "Garden", "Mirror", "Forest"]
GENRES = ["Fiction", "History", "Science", "Poetry", "Travel"]
PKG_A = ["tiny", "quick", "blue", "paper", "cloud", "stone", "pixel", "river", "amber", "lunar"]
PKG_B = ["parser", "cache", "logger", "router", "queue", "grid", "clock", "vault", "forms", "maps"]
TOPICS = [
    ("Getting started", ["Installation", "First steps", "Configuration"]),
    ("Services", ["Gateway service", "Storage service", "Scheduler service", "Mailer service"]),
    ("Reference", ["Command line", "Environment variables", "Error codes", "Glossary"]),
]


def generate(seed: int = 0) -> dict:
    rng = random.Random(seed)
    names = rng.sample([f"{f} {last}" for f in FIRST for last in LAST], 10)
    titles = rng.sample([f"The {a} {n}" for a in ADJ for n in NOUN], 40)
    books = []
    for i, title in enumerate(titles):
        books.append(
            {
                "title": title,
                "author": names[i % len(names)],
                "year": rng.randint(1950, 2020),
                "isbn": "978" + "".join(str(rng.randint(0, 9)) for _ in range(10)),
                "genre": GENRES[rng.randrange(len(GENRES))],
                "in_stock": rng.random() < 0.6,
            }
        )
    staff = [{"username": u, "password": f"{u}-{rng.randint(1000, 9999)}"} for u in ("ana", "ben", "cleo", "dev")]
    packages = []
    for name in rng.sample([f"{a}-{b}" for a in PKG_A for b in PKG_B], 12):
        major = rng.randint(0, 3)
        versions = sorted({(major, rng.randint(0, 9), rng.randint(0, 9)) for _ in range(rng.randint(2, 4))})
        packages.append({"name": name, "versions": [".".join(map(str, v)) for v in versions]})
    pages = []
    for section, titles_ in TOPICS:
        for title in titles_:
            slug = title.lower().replace(" ", "-")
            facts = {
                "default port": str(rng.randint(2000, 9999)),
                "timeout": f"{rng.randint(5, 120)} seconds",
                "maintainer": rng.choice(names),
            }
            pages.append({"section": section, "title": title, "slug": slug, "facts": facts})
    return {
        "seed": seed,
        "admin": {"username": "admin", "password": "admin-pass-0"},
        "staff": staff,
        "authors": names,
        "genres": GENRES,
        "books": books,
        "packages": packages,
        "pages": pages,
    }


def tasks(data: dict, seed: int = 0) -> list[dict]:
    """The task variants: one JSON object per task, grouped in families per site."""
    rng = random.Random(seed + 1)
    out: list[dict] = []

    def add(site, family, instruction, start, **check):
        out.append({"site": site, "family": family, "instruction": instruction, "start": start, "check": check})

    books = data["books"]
    for b in rng.sample(books, 6):
        add(
            "library",
            "open-book",
            f'Open the change page of the book "{b["title"]}".',
            "/admin/library/book/",
            title=b["title"],
        )
    for word in rng.sample(sorted({b["title"].split()[2] for b in books}), 5):
        add("library", "search-books", f'Search the books for "{word}".', "/admin/library/book/", q=word)
    for g in data["genres"]:
        add("library", "filter-genre", f"Show only the books of the genre {g}.", "/admin/library/book/", genre=g)
    # list_display = title, author, year, isbn, genre (webagent/sites/library/admin.py): o=N sorts column N
    for column, index in (("title", 1), ("author", 2), ("year", 3), ("ISBN", 4)):
        add("library", "sort-books", f"Sort the books by {column}.", "/admin/library/book/", o=str(index))
    used = {b["title"] for b in books}
    fresh = [t for t in (f"The {a} {n}" for a in ADJ for n in NOUN) if t not in used]
    for title in rng.sample(fresh, 5):
        author = rng.choice(data["authors"])
        year = rng.randint(1950, 2020)
        add(
            "library",
            "add-book",
            f'Add a book titled "{title}" by {author}, published in {year}.',
            "/admin/library/book/",
            title=title,
            author=author,
            year=year,
        )
    for b in rng.sample(books, 5):
        year = rng.choice([y for y in range(1950, 2021) if y != b["year"]])
        add(
            "library",
            "change-year",
            f'Change the year of the book "{b["title"]}" to {year}.',
            "/admin/library/book/",
            title=b["title"],
            year=year,
        )
    for b in rng.sample(books, 3):
        add(
            "library",
            "ask-isbn",
            f'What is the ISBN of the book "{b["title"]}"?',
            "/admin/library/book/",
            title=b["title"],
            field="isbn",
        )
    for b in rng.sample(books, 3):
        add(
            "library",
            "ask-author",
            f'Who wrote the book "{b["title"]}"?',
            "/admin/library/book/",
            title=b["title"],
            field="author",
        )
    for user in data["staff"][:3]:
        add(
            "library",
            "login",
            f'Log in with username "{user["username"]}" and password "{user["password"]}".',
            "/admin/login/?next=/admin/",
            username=user["username"],
        )

    for p in rng.sample(data["packages"], 6):
        add("packages", "open-package", f"Open the page of the package {p['name']}.", "/", name=p["name"])
    for p in rng.sample(data["packages"], 5):
        add(
            "packages",
            "ask-newest",
            f"Which file of the package {p['name']} has the newest version?",
            "/",
            name=p["name"],
        )
    for p in rng.sample(data["packages"], 4):
        add(
            "packages",
            "download-newest",
            f"Download the newest version of the package {p['name']}.",
            "/",
            name=p["name"],
        )

    pages = data["pages"]
    for p in rng.sample(pages, 6):
        add("docs", "open-page", f'Open the documentation page "{p["title"]}".', "/", slug=p["slug"])
    words = ["port", "timeout", "maintainer", "service", "install", "error"]
    for w in rng.sample(words, 4):
        add("docs", "search-docs", f'Search the documentation for "{w}".', "/", q=w)
    for p in rng.sample(pages, 6):
        fact = rng.choice(sorted(p["facts"]))
        add("docs", "ask-fact", f'What is the {fact} of the page "{p["title"]}"?', "/", slug=p["slug"], fact=fact)
    for i, task in enumerate(out):
        task["name"] = f"{task['site']}/{task['family']}/{sum(t['family'] == task['family'] for t in out[:i])}"
    return out


def write(seed: int = 0) -> tuple[Path, Path]:
    data = generate(seed)
    DATASET_DIR.mkdir(parents=True, exist_ok=True)
    SEED_FILE.write_text(json.dumps(data, indent=1) + "\n")
    TASKS_FILE.write_text("".join(json.dumps(t) + "\n" for t in tasks(data, seed)))
    return SEED_FILE, TASKS_FILE


def load_seed() -> dict:
    return json.loads(SEED_FILE.read_text())
