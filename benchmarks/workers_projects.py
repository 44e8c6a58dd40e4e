"""The Workers that ``workers.py`` deploys and the requests it sends them.

- user Workers ``user-000`` ... in the dispatch namespace :data:`NAMESPACE`, each answering
  ``<name> v<N> <pathname>`` (a small body that also shows which code answered);
- :data:`DISPATCH`, a dispatch Worker routing each request to a user Worker: by the hostname's
  first label when the host is a customer's (``<user>.tenants.example``), else by the first path
  segment (which it strips);
- :data:`PLAIN`, one Worker answering as a user Worker does, reached without dispatch;
- :data:`STATIC`, an assets-only site, whose small file the preview serves with no Worker.

Each is a project folder: ``wrangler.json`` (read by ``assetsync sync``/``sync-all`` and by
``wrangler dev``), ``worker.js`` and ``public/`` (every Worker has a small asset folder, as a
deploy needs files).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.clients import COMPAT_DATE, NAMESPACE
from common.rawhttp import Request

DISPATCH = "dispatch"
PLAIN = "plain"
STATIC = "static"
BINDING = "DISPATCHER"
TENANT_DOMAIN = "tenants.example"  # a customer's hostname: <user>.tenants.example
PATH = "/hello"  # what every workload asks for, past its routing part
STATIC_FILE = "hello.txt"
STATIC_BODY = b"static hello.txt v1\n"  # about as long as a Worker's answer

WORKER_CODE = """export default {
  fetch(request) {
    return new Response(`NAME VERSION ${new URL(request.url).pathname}\\n`);
  },
};
"""

DISPATCH_CODE = f"""export default {{
  async fetch(request, env) {{
    const url = new URL(request.url);
    let name;
    if (url.hostname.endsWith(".{TENANT_DOMAIN}")) {{
      name = url.hostname.split(".")[0];
    }} else {{
      const [, first, ...rest] = url.pathname.split("/");
      name = first;
      url.pathname = "/" + rest.join("/");
    }}
    try {{
      return await env.{BINDING}.get(name).fetch(new Request(url, request));
    }} catch (e) {{
      if (String(e.message).startsWith("Worker not found")) {{
        return new Response(`no user Worker ${{name}}\\n`, {{ status: 404 }});
      }}
      throw e;
    }}
  }},
}};
"""


def user_name(i: int) -> str:
    return f"user-{i:03d}"


def answer(name: str, version: int, pathname: str = PATH) -> bytes:
    """What Worker ``name`` at code version ``version`` answers for ``pathname``."""
    return f"{name} v{version} {pathname}\n".encode()


def marker(name: str, version: int) -> bytes:
    """The start of every answer of that code: what shows a new deploy is live."""
    return f"{name} v{version} ".encode()


def worker_code(name: str, version: int) -> str:
    """The code of a Worker answering as :func:`answer` says."""
    return WORKER_CODE.replace("NAME", name).replace("VERSION", f"v{version}")


def write_worker(project: Path, name: str, version: int) -> None:
    """Rewrite a project's ``worker.js`` with code version ``version``: a redeploy's edit."""
    (project / "worker.js").write_text(worker_code(name, version))


def write_project(
    project: Path,
    name: str,
    code: str | None,
    files: dict[str, bytes],
    extra: Mapping[str, object] | None = None,
) -> Path:
    """A project folder: ``wrangler.json`` (``main`` when there is ``code``), the code, ``public/``."""
    (project / "public").mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (project / "public" / rel).write_bytes(data)
    config: dict[str, object] = {"name": name, "compatibility_date": COMPAT_DATE}
    if code is not None:
        config["main"] = "worker.js"
        (project / "worker.js").write_text(code)
    config["assets"] = {"directory": "public"}
    config.update(extra or {})
    (project / "wrangler.json").write_text(json.dumps(config, indent=1) + "\n")
    return project


@dataclass(frozen=True)
class Projects:
    """Where each project was written."""

    users_root: Path  # one folder per user Worker: what ``sync-all`` publishes
    users: list[str]
    dispatch: Path
    plain: Path
    static: Path

    def user(self, name: str) -> Path:
        return self.users_root / name


def write_projects(root: Path, users: int) -> Projects:
    """Every project under ``root``, at code version 1."""
    names = [user_name(i) for i in range(users)]
    for name in names:
        write_project(root / "users" / name, name, worker_code(name, 1), {"about.txt": f"{name}\n".encode()})
    binding = {"dispatch_namespaces": [{"binding": BINDING, "namespace": NAMESPACE}]}
    return Projects(
        users_root=root / "users",
        users=names,
        dispatch=write_project(
            root / DISPATCH, DISPATCH, DISPATCH_CODE, {"about.txt": b"dispatch\n"}, binding
        ),
        plain=write_project(root / PLAIN, PLAIN, worker_code(PLAIN, 1), {"about.txt": b"plain\n"}),
        static=write_project(root / STATIC, STATIC, None, {STATIC_FILE: STATIC_BODY}),
    )


# -- requests -----------------------------------------------------------------------------------


def preview(script: str, rest: str) -> str:
    """The preview's path-style address of ``rest`` in ``script`` (``NAME`` or ``NAME.NS``)."""
    return f"/__preview/{script}{rest}"


def by_path(user: str, pathname: str = PATH) -> Request:
    """A request the dispatch Worker routes by its first path segment."""
    return Request("GET", preview(DISPATCH, f"/{user}{pathname}"))


def by_host(user: str, pathname: str = PATH) -> Request:
    """A request the dispatch Worker routes by the hostname's first label."""
    return Request("GET", preview(DISPATCH, pathname), (("Host", f"{user}.{TENANT_DOMAIN}"),))


# A workload: the requests of one round, from a seeded generator and a count.
Workload = Callable[[random.Random, int], list[Request]]


def spread(users: Sequence[str], rng: random.Random, count: int) -> list[str]:
    """``count`` user names, every user as often as the others (give or take one), shuffled."""
    names = [users[i % len(users)] for i in range(count)]
    rng.shuffle(names)
    return names


def workloads(users: Sequence[str]) -> dict[str, Workload]:
    """The assetsync workloads, by the label the table shows."""
    n = len(users)
    return {
        "assets (preview, no Worker)": lambda rng, count: (
            [Request("GET", preview(STATIC, f"/{STATIC_FILE}"))] * count
        ),
        "one plain Worker": lambda rng, count: [Request("GET", preview(PLAIN, PATH))] * count,
        f"dispatch by path -> {n} users": lambda rng, count: [by_path(u) for u in spread(users, rng, count)],
        f"dispatch by host -> {n} users": lambda rng, count: [by_host(u) for u in spread(users, rng, count)],
    }


def expected(users: Sequence[str]) -> list[tuple[str, Request, bytes]]:
    """Each route once, with the body it must answer: checked before anything is measured."""
    cases = [
        ("assets", Request("GET", preview(STATIC, f"/{STATIC_FILE}")), STATIC_BODY),
        ("plain Worker", Request("GET", preview(PLAIN, PATH)), answer(PLAIN, 1)),
    ]
    for u in users:
        cases.append((f"dispatch by path to {u}", by_path(u), answer(u, 1)))
        cases.append((f"dispatch by host to {u}", by_host(u), answer(u, 1)))
    return cases
