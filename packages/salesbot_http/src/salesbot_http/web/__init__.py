"""The pages a person looks at: the chat to try at ``/`` and the admin console at ``/console``.

Static HTML, CSS and JavaScript shipped in the package (``static/``), served by the app itself;
the pages read the same JSON API as every other client, with the bearer token held in the tab's
``sessionStorage`` (never a cookie, never a URL). See docs/decisions.md.
"""
