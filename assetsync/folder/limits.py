"""The platform's limits on a site, checked before any file is read.

Both checks say everything at once: every oversized file with its size, and for too many files
the folders that hold the most, since that usually means the wrong folder was given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..errors import FileTooLarge, TooManyFiles
from ..protocol import FREE_PLAN_FILES, MAX_FILE_SIZE, PAID_PLAN_FILES
from .scan import ScannedFile


def human_size(n: float) -> str:
    """Bytes in binary units, one decimal: ``26214401`` -> ``25.0 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_sizes(files: Sequence[ScannedFile], limit: int = MAX_FILE_SIZE) -> None:
    """Raise :class:`FileTooLarge` naming every file bigger than ``limit`` bytes."""
    big = sorted(((f.path, f.size) for f in files if f.size > limit), key=lambda t: (-t[1], t[0]))
    if not big:
        return
    lines = "\n".join(f"  {path}  {size:,} bytes ({human_size(size)})" for path, size in big)
    raise FileTooLarge(
        f"{len(big)} file{'s' if len(big) > 1 else ''} over the {human_size(limit)} "
        f"({limit:,} bytes) per-file limit:\n{lines}\n"
        "Split or compress them, serve them from R2, or add them to .assetsignore.",
        big,
    )


def top_folders(files: Sequence[ScannedFile], most: int = 5) -> list[tuple[str, int]]:
    """The folders (at any depth, counting their whole subtree) holding the most files."""
    counts: Counter[str] = Counter()
    for f in files:
        path = f.path
        cut = path.find("/", 1)
        while cut != -1:
            counts[path[: cut + 1]] += 1
            cut = path.find("/", cut + 1)
    # Prefer the deepest folder when a parent holds exactly the same files.
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -kv[0].count("/"), kv[0]))
    out: list[tuple[str, int]] = []
    for folder, n in ranked:
        if any(kept.startswith(folder) and kn == n for kept, kn in out):
            continue
        out.append((folder, n))
        if len(out) == most:
            break
    return out


def check_count(files: Sequence[ScannedFile], limit: int = FREE_PLAN_FILES) -> None:
    """Raise :class:`TooManyFiles` when there are more than ``limit`` files."""
    if len(files) <= limit:
        return
    folders = top_folders(files)
    listing = "\n".join(f"  {folder}  {n:,} files" for folder, n in folders)
    raise TooManyFiles(
        f"{len(files):,} files, over the limit of {limit:,} files per version.\n"
        + (f"Folders holding the most files:\n{listing}\n" if listing else "")
        + "Check that you passed the built site's folder, exclude what is not an asset with "
        f".assetsignore or --ignore, or raise --max-files (paid plans allow {PAID_PLAN_FILES:,}).",
        len(files),
        limit,
    )
