"""The emulated Cloudflare API: upload sessions, bucket uploads, deploys, scripts, and Workers KV.

Routes follow PROTOCOL.md sections 4, 5 and 7, plus what a plain ``wrangler deploy`` asks along
the way (services, deployments, versions, settings, subdomain), answered as the recorded traces
show the real API does. Every answer is a Cloudflare envelope (but a KV value, which is raw
bytes); every error names what to fix.

One module a part of the API (:mod:`.uploads`, :mod:`.deploys`, :mod:`.namespaces`,
:mod:`.wrangler`, :mod:`.secrets`, :mod:`.kv`), on what they share (:mod:`.base`, :mod:`.shapes`,
:mod:`.limits`); the route table (:mod:`.routes`) puts them together as :class:`Api`.
"""

from .limits import Limits
from .routes import Api

__all__ = ["Api", "Limits"]
