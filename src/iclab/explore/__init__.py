"""``iclab explore``: an interactive page for the learning curves of Lu et al. (2025).

- :mod:`.view`: the page's state as a typed value (:class:`View`), its URL form, and the theory curves it shows;
- :mod:`.jobs`: Γ* simulations started from the page, run in a background process through the sweep engine;
- :mod:`.server`: a small threaded HTTP server on 127.0.0.1 that serves the page, Plotly.js from the installed
  ``plotly`` package (no CDN: it works offline), and the JSON endpoints.

The page itself is ``static/index.html`` + ``static/app.js``.
"""
