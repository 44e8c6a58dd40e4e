"""How Workers Static Assets reads ``_redirects`` and ``_headers``, as pure code, once.

The emulator's preview serves with these parsers and matchers, and the client runs the same
parsers before a deploy, so a line the preview would ignore is one the user heard about first.
:mod:`.urls` holds the URL syntax both files share, :mod:`.rules` the pattern matcher,
:mod:`.redirects` and :mod:`.headers` the two files. Stdlib only, no I/O.
"""
