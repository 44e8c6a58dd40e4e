"""The real ``assetsync`` CLI in a subprocess: output shapes, messages and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from ..helpers import FIXTURES, make_tree, run_cli

SITE = FIXTURES / "site"


def test_manifest_prints_the_session_body_and_a_summary(cache_dir: Path) -> None:
    proc = run_cli("manifest", str(SITE), "--cache-dir", str(cache_dir))
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert list(body) == ["manifest"]
    assert list(body["manifest"]) == sorted(body["manifest"])
    assert body["manifest"]["/hello.txt"] == {"hash": "a9dff3d47fd96efad53b340d028df025", "size": 17}
    for key in ("/_headers", "/_redirects", "/.assetsignore", "/old.bak"):
        assert key not in body["manifest"]
    assert proc.stdout.endswith("}}\n") and "\n" not in proc.stdout[:-1]
    assert proc.stderr.startswith("8 files, 110 B: ")
    assert "café" in proc.stdout


def test_tenant_salts_and_wrangler_scheme_matches_wrangler(cache_dir: Path) -> None:
    a = json.loads(run_cli("manifest", str(SITE), "--tenant", "acme", "--no-cache").stdout)["manifest"]
    assert a["/hello.txt"]["hash"] == "837408ecde8db6b6702b1f4dae417f8c"
    w = json.loads(run_cli("manifest", str(SITE), "--hash-scheme", "wrangler", "--no-cache").stdout)[
        "manifest"
    ]
    assert w["/hello.txt"]["hash"] == "0de3dd5df907418e9730fd2bd747bd5e"
    assert w["/empty.txt"]["hash"] == "f9bc91770fa5e997cbd47fba833629fc"
    assert w["/index.html"]["hash"] == "4752155c2c0c0320b40bca1d83e8380a"


def test_exit_codes_and_messages(tmp_path: Path) -> None:
    proc = run_cli("manifest", str(tmp_path / "missing"))
    assert (proc.returncode, proc.stdout) == (4, "")
    assert (
        proc.stderr
        == f"error: {tmp_path}/missing: no such folder. Pass the folder that holds your built site.\n"
    )

    proc = run_cli("manifest", str(SITE), "--hash-scheme", "wrangler", "--tenant", "acme")
    assert proc.returncode == 2 and "takes no salt" in proc.stderr

    proc = run_cli("manifest", str(SITE), "--tenant", "a\x01b", "--no-cache")
    assert proc.returncode == 0  # control characters other than NUL are fine in a salt

    make_tree(tmp_path / "big", {"a.txt": "x"})
    with open(tmp_path / "big" / "huge.bin", "wb") as f:
        f.truncate(26_214_401)
    proc = run_cli("manifest", str(tmp_path / "big"), "--no-cache")
    assert proc.returncode == 5 and "/huge.bin  26,214,401 bytes" in proc.stderr and proc.stdout == ""

    make_tree(tmp_path / "many", {f"d/{i}.txt": "" for i in range(4)})
    proc = run_cli("manifest", str(tmp_path / "many"), "--no-cache", "--max-files", "3")
    assert proc.returncode == 5 and "4 files, over the limit of 3" in proc.stderr

    make_tree(tmp_path / "badignore", {".assetsignore": "\\\n", "a.txt": ""})
    proc = run_cli("manifest", str(tmp_path / "badignore"), "--no-cache")
    assert proc.returncode == 3 and ".assetsignore, line 1: invalid pattern" in proc.stderr

    proc = run_cli("manifest")
    assert proc.returncode == 2 and "Missing argument 'FOLDER'" in proc.stderr


def test_help_documents_exit_codes_and_version() -> None:
    proc = run_cli("manifest", "--help")
    assert proc.returncode == 0
    assert "Exit codes:" in proc.stdout and "5  a platform limit is exceeded" in proc.stdout
    assert run_cli("--version").stdout.startswith("assetsync, version ")


def test_quiet_and_ignore_flags(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.txt": "", "b.map": "", "node_modules/x.js": ""})
    proc = run_cli("manifest", str(tmp_path), "--no-cache", "-q", "--ignore", "*.map", "--no-default-ignores")
    assert proc.stderr == ""
    assert list(json.loads(proc.stdout)["manifest"]) == ["/a.txt", "/node_modules/x.js"]


def test_module_and_console_script_agree(tmp_path: Path) -> None:
    import shutil
    import subprocess

    exe = shutil.which("assetsync")
    assert exe, "the console script is installed with the package"
    a = subprocess.run([exe, "manifest", str(SITE), "--no-cache", "-q"], capture_output=True, text=True)
    b = run_cli("manifest", str(SITE), "--no-cache", "-q")
    assert a.stdout == b.stdout and a.returncode == 0
