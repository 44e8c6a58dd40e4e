"""Deployed sites served as Workers Static Assets would serve them, for previews in the browser.

:mod:`.app` answers preview requests from the store; :mod:`.resolve` decides each answer from
the deployed manifest and its ``_redirects`` (:mod:`.redirects`) and ``_headers``
(:mod:`.headers`) rules, which share :mod:`.urls` and :mod:`.rules`; :mod:`.livereload` reloads
open pages in dev mode.
"""
