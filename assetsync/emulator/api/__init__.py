"""The emulated Cloudflare API: upload sessions, bucket uploads, deploys, and scripts.

Routes follow PROTOCOL.md sections 4 and 5, plus what a plain ``wrangler deploy`` asks along the
way (services, deployments, versions, settings, subdomain), answered as the recorded traces show
the real API does. Every answer is a Cloudflare envelope; every error names what to fix.

One module a part of the API (:mod:`.uploads`, :mod:`.deploys`, :mod:`.namespaces`,
:mod:`.wrangler`), on what they share (:mod:`.base`, :mod:`.shapes`, :mod:`.limits`); the route
table (:mod:`.routes`) puts them together as :class:`Api`.
"""

from .limits import Limits
from .routes import Api

__all__ = ["Api", "Limits"]
