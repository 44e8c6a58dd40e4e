"""Finding the workerd binary, and what it can run.

Looked for, in order: the path given (``--workerd``), ``$ASSETSYNC_WORKERD``, ``workerd`` on
``PATH``, then ``node_modules/.bin/workerd`` in the working folder (what ``npm install wrangler``
or ``npm install workerd`` leaves there).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from ...errors import UsageError

ENV_VAR = "ASSETSYNC_WORKERD"
INSTALL_HINT = "install it with `npm install workerd` (or wrangler, which brings it), or give --workerd PATH"


class WorkerdMissing(UsageError):
    """No usable workerd; the message says where it looked and what to do (exit 2, as a usage
    error: ``--runtime workerd`` asked for what is not there)."""


def find_workerd(
    explicit: str | None = None, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> str:
    """The workerd to run: an executable path, or :class:`WorkerdMissing` saying why not."""
    env = os.environ if env is None else env
    if explicit:
        return _usable(explicit, "--workerd")
    if env.get(ENV_VAR):
        return _usable(env[ENV_VAR], f"${ENV_VAR}")
    on_path = shutil.which("workerd", path=env.get("PATH"))
    if on_path:
        return on_path
    local = os.path.join(cwd or os.getcwd(), "node_modules", ".bin", "workerd")
    if os.path.isfile(local) and os.access(local, os.X_OK):
        return local
    raise WorkerdMissing(
        f"workerd not found (looked at ${ENV_VAR}, PATH and ./node_modules/.bin): {INSTALL_HINT}"
    )


def _usable(path: str, source: str) -> str:
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise WorkerdMissing(f"{source} names {path!r}, which is not an executable file: {INSTALL_HINT}")
    return path


def workerd_date(binary: str) -> str:
    """The newest compatibility date ``binary`` supports (its version is that date)."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        raise WorkerdMissing(f"cannot run {binary!r}: {exc.strerror or exc}") from None
    match = re.search(r"(\d{4}-\d{2}-\d{2})", out.stdout + out.stderr)
    if match is None:
        raise WorkerdMissing(f"{binary!r} --version said {out.stdout.strip()!r}, not a workerd version")
    return match.group(1)
