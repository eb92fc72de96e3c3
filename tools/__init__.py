"""Command-line tools (run as scripts: ``python tools/<name>.py``; tests import their ``main``)."""
