"""What the emulated API accepts: one value per emulator, so a test or ``assetsync serve`` can set it.

The defaults are the platform's (free plan, request limits); tests shrink them to reach a limit
without building a site that large.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...protocol import BUCKET_BYTES, BUCKET_FILES, FREE_PLAN_FILES, MAX_FILE_SIZE


@dataclass(frozen=True, slots=True)
class Limits:
    """What the emulated API accepts; defaults are the platform's free plan."""

    max_files: int = FREE_PLAN_FILES
    max_file_size: int = MAX_FILE_SIZE
    bucket_bytes: int = BUCKET_BYTES
    bucket_files: int = BUCKET_FILES
    max_upload_body: int = 128 * 1024 * 1024
    max_json_body: int = 64 * 1024 * 1024
    max_script_body: int = 64 * 1024 * 1024
    # Cloudflare's request limits (Workers docs, "Request limits"): a 16 KB URL, request headers
    # of 32 KB in all and 16 KB each.
    max_url: int = 16 * 1024
    max_headers: int = 32 * 1024
    max_header: int = 16 * 1024
