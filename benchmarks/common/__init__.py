"""What the benchmark scripts share, so that each script holds only what it measures.

- ``trees``: the fixture trees they deploy or scan (a synthetic site, small files, big files,
  a platform of tenants), generated once and reused;
- ``processes``: the process tree of a command (CPU time, peak memory) and the spawner that
  times commands;
- ``servers``: the servers they start on 127.0.0.1 (the emulator, plain HTTP baselines, the
  watcher), ready on the line they print, stopped whatever happens;
- ``clients``: assetsync and wrangler run against an emulator, with their environments;
- ``snapshot``: the copy of the assetsync package the clients and the emulator run from;
- ``tables``: the rows of timed runs and the tables, targets and ratios printed from them;
- ``options``, ``workdirs``, ``lifecycle``, ``machine``: the command line, the work folder, the
  exit statuses and the header's facts about this machine.

``benchmarks/`` itself is not a package: a script run as ``python benchmarks/NAME.py`` has this
folder first on ``sys.path`` and imports ``common.trees`` and the like.
"""

from __future__ import annotations


class BenchError(Exception):
    """Something outside the measured numbers went wrong: a tool is missing, a command failed,
    a server died."""
