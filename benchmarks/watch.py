"""Watch mode, measured: save-to-live latency, a 1,000-file burst, and the idle watcher's CPU.

Runs ``assetsync serve`` and ``assetsync watch`` as separate processes on this machine, over a
copy (hard links) of the 10,000-file synthetic site of ``benchmarks/manifest.py``:

- **save-to-live**: 50 single-file edits, one after the other; each is timed from the moment
  the file is written (replaced, as editors do) to the moment the preview serves the new bytes
  (polled every 2 ms). Reported as p50 and p95.
- **burst**: 1,000 new files written as fast as possible; how many deploys it took and the time
  until the last file is served.
- **idle CPU**: the watcher's CPU time over an idle window, as a share of one core.

Targets: p50 <= 100 ms, p95 <= 250 ms, burst in <= 2 deploys, idle CPU < 1% of a core.

    python benchmarks/watch.py [--quick] [--edits 50] [--idle 10] [--check]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import manifest as manifest_bench  # noqa: E402  (the synthetic site generator)

ACCOUNT = "0123456789abcdef0123456789abcdef"


class Lines:
    """Collects a process's stderr lines on a thread, so the benchmark can wait on them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self.thread.start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, pred: object, timeout: float = 600.0) -> list[str]:
        with self.cond:
            ok = self.cond.wait_for(lambda: pred(self.lines), timeout)  # type: ignore[operator]
            if not ok:
                raise SystemExit("timed out; last lines:\n" + "\n".join(self.lines[-20:]))
            return list(self.lines)

    def count(self, needle: str) -> int:
        with self.cond:
            return sum(needle in line for line in self.lines)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".assetsync-bench-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def wait_served(client: httpx.Client, url_path: str, want: bytes, deadline: float) -> float:
    while True:
        r = client.get(url_path)
        if r.status_code == 200 and r.content == want:
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise SystemExit(f"{url_path} never served the new bytes")
        time.sleep(0.002)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the 1,000-file site, 20 edits, 200-file burst")
    ap.add_argument("--edits", type=int, default=0, help="single-file edits to time [50]")
    ap.add_argument("--burst", type=int, default=0, help="files in the burst [1000]")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    ap.add_argument("--workdir", type=Path, default=HERE.parent / ".bench" / "manifest")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)
    edits = args.edits or (20 if args.quick else 50)
    burst = args.burst or (200 if args.quick else 1000)

    args.workdir.mkdir(parents=True, exist_ok=True)
    tree = manifest_bench.ensure_tree(manifest_bench.site_spec(args.quick), args.workdir)
    scratch = Path(tempfile.mkdtemp(prefix="assetsync-watch-bench-"))
    site = scratch / "site"
    subprocess.run(
        ["cp", "-al", str(tree.root), str(site)], check=True
    )  # edits replace files: links are safe
    procs: list[subprocess.Popen[str]] = []
    try:
        serve = subprocess.Popen(
            [sys.executable, "-m", "assetsync", "serve", "--port", "0", "--data", str(scratch / "data")],
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(serve)
        out = Lines(serve)
        api = out.wait_for(lambda ls: any("API base:" in x for x in ls), 60)
        base = next(x.split()[-1] for x in api if "API base:" in x)
        origin = base.rsplit("/client/v4", 1)[0]
        token = (scratch / "data" / "api-token").read_text().strip()
        env = {
            **os.environ,
            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
            "CLOUDFLARE_API_TOKEN": token,
            "CLOUDFLARE_API_BASE_URL": base,
            "CI": "1",
        }
        t0 = time.perf_counter()
        watch = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assetsync",
                "watch",
                str(site),
                "--name",
                "site",
                "--cache-dir",
                str(scratch / "cache"),
                "--rescan",
                "3600",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        procs.append(watch)
        lines = Lines(watch)
        got = lines.wait_for(lambda ls: any(" deployed: " in x or x.startswith("error") for x in ls), 900)
        if not any(" deployed: " in x for x in got):
            raise SystemExit("the first sync failed:\n" + "\n".join(got[-10:]))
        print(
            f"initial sync of {len(tree.files):,} files ({tree.total_bytes / 2**20:.0f} MiB): "
            f"{time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )

        client = httpx.Client(base_url=origin, headers={"Host": "site.localhost"}, timeout=30)
        rng = random.Random(7)
        small = [p for p in tree.files if os.path.getsize(p) < 64 * 1024 and not p.endswith(".html")]
        latencies = []
        for i in range(edits):
            rel = os.path.relpath(rng.choice(small), tree.root)
            data = f"edit {i} {time.time()} ".encode() * 8
            deploys_before = lines.count(" deployed: ")
            start = time.perf_counter()
            replace_file(site / rel, data)
            done = wait_served(client, "/" + rel.replace(os.sep, "/"), data, start + 30)
            latencies.append(done - start)
            lines.wait_for(lambda ls, n=deploys_before: sum(" deployed: " in x for x in ls) > n, 30)

        deploys_before = lines.count(" deployed: ")
        burst_dir = site / "burst"
        start = time.perf_counter()
        burst_dir.mkdir()
        for i in range(burst):
            (burst_dir / f"page-{i:04d}.txt").write_bytes(f"burst file {i}\n".encode())
        last_bytes = f"burst file {burst - 1}\n".encode()
        burst_live = wait_served(client, f"/burst/page-{burst - 1:04d}.txt", last_bytes, start + 120) - start
        # Let any trailing deploy finish before counting.
        time.sleep(1.0)
        burst_deploys = lines.count(" deployed: ") - deploys_before
        for i in range(0, burst, max(1, burst // 20)):
            assert client.get(f"/burst/page-{i:04d}.txt").content == f"burst file {i}\n".encode()

        # Let the watcher finish what the burst started (a follow-up check of late events) before
        # the idle window: CPU time must stop moving for a second.
        settle_end = time.monotonic() + 30
        last = cpu_seconds(watch.pid)
        while time.monotonic() < settle_end:
            time.sleep(1.0)
            now_cpu = cpu_seconds(watch.pid)
            if now_cpu == last:
                break
            last = now_cpu
        before = cpu_seconds(watch.pid)
        time.sleep(args.idle)
        idle = (cpu_seconds(watch.pid) - before) / args.idle * 100

        p50, p95 = statistics.median(latencies), pct(latencies, 0.95)
        rows = [
            ("save-to-live p50", f"{p50 * 1000:.0f} ms", "<= 100 ms", p50 <= 0.100),
            ("save-to-live p95", f"{p95 * 1000:.0f} ms", "<= 250 ms", p95 <= 0.250),
            (f"burst of {burst} files: deploys", f"{burst_deploys}", "<= 2", burst_deploys <= 2),
            (f"burst of {burst} files: time to live", f"{burst_live * 1000:.0f} ms", "-", None),
            ("idle CPU of the watcher", f"{idle:.2f}% of a core", "< 1%", idle < 1.0),
        ]
        print(
            f"\nassetsync watch on {len(tree.files):,} files ({tree.total_bytes / 2**20:.0f} MiB), "
            f"{edits} edits; {os.cpu_count()} CPUs; emulator over a socket on 127.0.0.1"
        )
        print(f"{'measure':38} {'value':>16}  {'target':>10}  result")
        for name, value, target, ok in rows:
            result = "-" if ok is None else ("PASS" if ok else "FAIL")
            print(f"{name:38} {value:>16}  {target:>10}  {result}")
        print(f"latencies (ms): min {min(latencies) * 1000:.0f}, max {max(latencies) * 1000:.0f}")
        failed = any(ok is False for *_, ok in rows)
        return 1 if failed and args.check else 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
