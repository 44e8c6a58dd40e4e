"""The ``assetsync`` command: click commands that parse options, call the library and render
what it reports.

Where things are: :mod:`.app` (the group, the entry point, errors to exit codes),
:mod:`.options` (options shared by commands, and the settings they make), :mod:`.render` (text
for a person), then one module per command: :mod:`.manifest`, :mod:`.sync`, :mod:`.live`
(watch, dev), :mod:`.sync_all`, :mod:`.scripts` (list, delete), :mod:`.secrets` (secret put,
list, delete) and :mod:`.serve`.
"""

from .app import entry, main
from .live import dev, watch
from .manifest import manifest
from .scripts import scripts
from .secrets import secret
from .serve import serve
from .sync import sync
from .sync_all import sync_all

for _command in (manifest, serve, sync, watch, dev, sync_all, scripts, secret):
    main.add_command(_command)

__all__ = ["entry", "main"]
