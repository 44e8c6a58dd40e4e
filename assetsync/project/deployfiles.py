"""The files a deploy carries besides the assets: the root ``_headers`` and ``_redirects`` text
and the Worker's modules.

Read here rather than with the config because they are not config: they come from the asset
folder and the Worker's folder, whichever way (flags or wrangler config) those were named.
"""

from __future__ import annotations

import os

from ..errors import ConfigError
from ..folder.ignore import utf8_text
from ..protocol import MODULE_TYPES, AssetsConfig, Module

__all__ = ["read_modules", "read_root_file", "root_rule_texts"]


def read_root_file(folder: str, name: str) -> str | None:
    """The text of a deployment file at the root of the asset folder (``_headers``,
    ``_redirects``), or None when there is none."""
    path = os.path.join(folder, name)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a folder, but {name} at the root of the site configures the deployment and "
            "must be a text file. Rename the folder."
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}. Check its permissions.") from None
    text = utf8_text(data, path)
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as text-mode reading gave it


def root_rule_texts(folder: str, assets: AssetsConfig) -> tuple[str | None, str | None]:
    """The ``_headers`` and ``_redirects`` texts a deploy of ``folder`` carries: the ones the
    caller set in ``assets``, else the folder's root files (None: neither)."""
    headers = assets.headers if assets.headers is not None else read_root_file(folder, "_headers")
    redirects = assets.redirects if assets.redirects is not None else read_root_file(folder, "_redirects")
    return headers, redirects


def read_modules(main_file: str, source: str = "--main") -> tuple[Module, ...]:
    """The Worker's main module and the modules beside it (not bundled: deploy what is there).

    ``source`` says where ``main_file`` came from (the flag, or the config file's ``main``).
    """
    folder = os.path.dirname(os.path.abspath(main_file))
    if not os.path.isfile(main_file):
        raise ConfigError(
            f"{source} {main_file}: no such file. Pass the Worker's entry module (a .js or .mjs file), "
            "or leave it out for an assets-only deploy."
        )
    mods = []
    for name in sorted(os.listdir(folder)):
        ext = os.path.splitext(name)[1]
        path = os.path.join(folder, name)
        if ext in MODULE_TYPES and os.path.isfile(path):
            with open(path, "rb") as f:
                mods.append(Module(name, MODULE_TYPES[ext], f.read()))
    return tuple(mods)
