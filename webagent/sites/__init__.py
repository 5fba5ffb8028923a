"""A suite of real third-party web applications served offline on 127.0.0.1.

Three applications, each seeded from generated data (a fixed seed,
`datasets/sites/seed.json`) and served behind a WSGI wrapper that logs every
request (`serve.py`):

- `library`: a Django project whose Django admin manages generated books and authors;
- `packages`: pypiserver serving generated dummy packages;
- `docs`: a documentation set built with MkDocs (readthedocs theme) from generated pages.

Task families with variants are in `datasets/sites/tasks.jsonl`; each task's success
is read from the application (its sqlite database, its files, its request log), never
from what the agent says (`webagent.envs.sites`).
"""
