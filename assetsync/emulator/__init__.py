"""A local emulator of the Cloudflare asset upload API, and a preview server for what it deploys."""
