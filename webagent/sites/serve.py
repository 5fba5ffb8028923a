"""Seed and serve one application of the suite (run as a subprocess by `apps.py`).

    python -m webagent.sites.serve seed  APP ROOT
    python -m webagent.sites.serve serve APP ROOT --port P

Every request the application answers is appended to ROOT/APP/requests.jsonl
(method, path, query, status, content type): the request log that task checks read.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import socketserver
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from webagent.sites.data import load_seed

# -- seeding ---------------------------------------------------------------------


def _django(root: Path):
    os.environ["WEBAGENT_SITES_DB"] = str(root / "library.db")
    os.environ["DJANGO_SETTINGS_MODULE"] = "webagent.sites.library.settings"
    import django

    django.setup()


def seed_library(root: Path, data: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("library.db", "pristine.db"):
        (root / name).unlink(missing_ok=True)
    _django(root)
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from webagent.sites.library.books.models import Author, Book

    call_command("migrate", run_syncdb=True, verbosity=0)
    User.objects.create_superuser(data["admin"]["username"], "admin@example.org", data["admin"]["password"])
    for user in data["staff"]:
        User.objects.create_superuser(user["username"], f"{user['username']}@example.org", user["password"])
    authors = {name: Author.objects.create(name=name) for name in data["authors"]}
    for b in data["books"]:
        Book.objects.create(**{**b, "author": authors[b["author"]]})
    from django.db import connection

    connection.close()
    import sqlite3

    with sqlite3.connect(root / "library.db") as live, sqlite3.connect(root / "pristine.db") as copy:
        live.backup(copy)


def seed_packages(root: Path, data: dict) -> None:
    packages = root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    for old in packages.glob("*.tar.gz"):
        old.unlink()
    for p in data["packages"]:
        for version in p["versions"]:
            base = f"{p['name']}-{version}"
            info = root / "PKG-INFO"
            info.write_text(f"Metadata-Version: 2.1\nName: {p['name']}\nVersion: {version}\n")
            with tarfile.open(packages / f"{base}.tar.gz", "w:gz") as tar:
                tar.add(info, arcname=f"{base}/PKG-INFO")
            info.unlink()


def seed_docs(root: Path, data: dict) -> None:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    nav = []
    sections: dict[str, list] = {}
    for page in data["pages"]:
        rows = "\n".join(f"| {k} | {v} |" for k, v in page["facts"].items())
        text = (
            f"# {page['title']}\n\nThis page describes the {page['title'].lower()} of the Zephyr toolkit.\n\n"
            f"## Settings\n\n| Setting | Value |\n|---|---|\n{rows}\n\n"
            f"## Notes\n\nSee the other pages of the {page['section']} section for related topics.\n"
        )
        (docs / f"{page['slug']}.md").write_text(text)
        sections.setdefault(page["section"], []).append({page["title"]: f"{page['slug']}.md"})
    (docs / "index.md").write_text("# Zephyr toolkit\n\nWelcome to the documentation of the Zephyr toolkit.\n")
    nav = [{"Home": "index.md"}, *({s: pages} for s, pages in sections.items())]
    config = {"site_name": "Zephyr toolkit", "theme": {"name": "readthedocs"}, "nav": nav, "docs_dir": "docs"}
    (root / "mkdocs.yml").write_text(json.dumps(config))  # JSON is YAML
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(root / "mkdocs.yml"), "-d", str(root / "site")],
        check=True,
    )


SEEDERS = {"library": seed_library, "packages": seed_packages, "docs": seed_docs}


# -- serving -----------------------------------------------------------------------


def static_app(folder: Path):
    """A static file server (MkDocs output): /dir/ serves dir/index.html."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        target = (folder / path.lstrip("/")).resolve()
        if folder.resolve() not in (target, *target.parents):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        if target.is_dir():
            if not path.endswith("/"):
                start_response("301 Moved Permanently", [("Location", path + "/")])
                return [b""]
            target = target / "index.html"
        if not target.is_file():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        start_response("200 OK", [("Content-Type", kind), ("Cache-Control", "no-store")])
        return [target.read_bytes()]

    return app


def make_app(name: str, root: Path):
    if name == "library":
        _django(root)
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    if name == "packages":
        import pypiserver

        return pypiserver.app(roots=[str(root / "packages")], authenticate=[], password_file=".")
    if name == "docs":
        return static_app(root / "site")
    raise SystemExit(f"unknown application {name!r}")


def logged(app, log_path: Path):
    """The application, with each request it answers appended to the request log."""
    lock = threading.Lock()
    log = log_path.open("a", encoding="utf-8")

    def wrapper(environ, start_response):
        record = {
            "t": time.time(),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING", ""),
        }

        def start(status, headers, exc_info=None):
            record["status"] = int(status.split()[0])
            record["type"] = next((v for k, v in headers if k.lower() == "content-type"), "")
            with lock:
                log.write(json.dumps(record) + "\n")
                log.flush()
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return app(environ, start)

    return wrapper


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(name: str, root: Path, port: int) -> None:
    app = logged(make_app(name, root), root / "requests.jsonl")
    with make_server("127.0.0.1", port, app, server_class=_Server, handler_class=_Quiet) as httpd:
        print(f"{name} on http://127.0.0.1:{httpd.server_address[1]}/", flush=True)
        httpd.serve_forever()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("seed", "serve"))
    parser.add_argument("app", choices=tuple(SEEDERS))
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "seed":
        SEEDERS[args.app](args.root, load_seed())
    else:
        serve(args.app, args.root, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
