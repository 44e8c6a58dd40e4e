"""Seeded synthetic sites, and the check that what the emulator deployed is exactly a folder.

:func:`assert_deployed` does not trust the client: it walks the folder itself, computes each
file's hash as PROTOCOL.md section 2 defines it, and compares that with the manifest of the live
version and with the bytes of every stored blob. A lost file, a stale hash (old hash with new
bytes or the reverse) or a torn blob each fail it, naming the path.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

from assetsync.emulator.store import Store, scope_of
from assetsync.protocol.contenttypes import content_type

from .helpers import make_tree

EXTENSIONS = ("html", "css", "js", "json", "svg", "png", "txt", "woff2", "map", "")


def synthetic_site(root: Path, files: int, seed: int, big: int = 3) -> dict[str, bytes]:
    """``files`` small files of mixed sizes and types in nested folders, some empty, some with
    the same bytes as another, plus ``big`` files of 1-2 MiB; written under ``root``."""
    rng = random.Random(seed)
    out: dict[str, bytes] = {}
    earlier: list[bytes] = []
    for i in range(files - big):
        folder = "/".join(f"d{rng.randrange(12)}" for _ in range(rng.choice((0, 1, 1, 2, 2, 3))))
        ext = rng.choice(EXTENSIONS)
        rel = (f"{folder}/" if folder else "") + f"f{i:05d}" + (f".{ext}" if ext else "")
        r = rng.random()
        if earlier and r < 0.03:
            data = rng.choice(earlier)  # the same bytes again: one blob when the type matches too
        elif r < 0.04:
            data = b""
        elif r < 0.90:
            data = rng.randbytes(rng.randrange(1, 1024))
        elif r < 0.99:
            data = rng.randbytes(rng.randrange(1024, 16384))
        else:
            data = rng.randbytes(rng.randrange(16384, 65536))
        if r > 0.95:
            earlier.append(data)
        out[rel] = data
    for k in range(big):
        out[f"media/big-{k}.bin"] = rng.randbytes(rng.randrange(1 << 20, 2 << 20))
    make_tree(root, out)
    return out


def asset_hash(data: bytes, path: str, salt: str = "") -> str:
    """The default scheme, written out from the protocol: sha256(salt, 0, type, 0, bytes)."""
    framed = hashlib.sha256(salt.encode() + b"\0" + content_type(path).encode() + b"\0")
    framed.update(data)
    return framed.hexdigest()[:32]


def local_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by manifest key (no ignore rules: test sites need none)."""
    out: dict[str, bytes] = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            full = os.path.join(dirpath, name)
            out["/" + os.path.relpath(full, folder).replace(os.sep, "/")] = Path(full).read_bytes()
    return out


def assert_deployed(
    store: Store, account: str, script: str, folder: Path, namespace: str | None = None, salt: str = ""
) -> int:
    """The live version of ``script`` holds exactly the files of ``folder``, each under the hash
    of its current bytes, and every blob it points at holds those bytes. Returns bytes checked."""
    live = store.script(account, namespace or "", script)
    assert live is not None and live.version, f"{script} was never deployed"
    version = store.version(live.version)
    assert version is not None and version.manifest is not None
    deployed = version.manifest
    files = local_files(folder)
    assert set(deployed) == set(files), (
        f"missing: {sorted(set(files) - set(deployed))[:5]}, extra: {sorted(set(deployed) - set(files))[:5]}"
    )
    scope = scope_of(account, namespace)
    checked = 0
    for path, (digest, size, ctype) in deployed.items():
        data = files[path]
        assert digest == asset_hash(data, path, salt), f"{path}: deployed under a stale hash"
        assert size == len(data), f"{path}: deployed size {size}, file has {len(data)} bytes"
        assert ctype == content_type(path), f"{path}: served as {ctype}"
        blob = Path(store.blob_path(scope, digest)).read_bytes()
        assert blob == data, f"{path}: the stored blob {digest} does not hold the file's bytes"
        checked += len(blob)
    return checked


def never_stored(store: Store, account: str, digest: str, namespace: str | None = None) -> bool:
    """No blob was ever recorded under ``digest`` in the scope."""
    return digest not in store.present(scope_of(account, namespace), [digest])
