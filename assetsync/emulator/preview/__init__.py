"""Deployed sites served as Workers Static Assets would serve them, for previews in the browser.

:mod:`.app` answers preview requests from the store; :mod:`.resolve` decides each answer from
the deployed manifest and its ``_redirects`` and ``_headers`` rules, read by the parsers the client
shares (:mod:`assetsync.protocol.assetrules`); :mod:`.ranges` slices byte ranges as the platform's
cache does; :mod:`.pages` draws the index and the page that lists several accounts' sites;
:mod:`.livereload` reloads open pages in dev mode.
"""
