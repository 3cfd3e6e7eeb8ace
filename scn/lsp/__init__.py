"""`scn lsp`: the language server, on top of the grammar, the checker and the formatter.

Nothing below the command line imports this package (tests/test_layers.py).
"""

from __future__ import annotations

from ._server import DEBOUNCE, ScnServer, build_server, serve

__all__ = ["DEBOUNCE", "ScnServer", "build_server", "serve"]
