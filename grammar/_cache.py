"""A private per-user cache directory for what is slow to make and safe to keep.

The parser's analysed grammar (Lark's cache, a pickle), the files' parses
(_parse_cache.py) and the checker's template outlines live in ~/.cache/scn (or
$XDG_CACHE_HOME/scn). A file there is used only if
the directory and the file belong to the user and no one else can write to them: a
planted pickle would run code. SCN_GRAMMAR_CACHE=0 turns the cache off.
"""

from __future__ import annotations

import os
import stat


def private_cache_file(name: str) -> str | None:
    """A path in our per-user cache directory, or None where caching is not safe."""
    if os.environ.get("SCN_GRAMMAR_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "scn")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.stat(directory)
    except OSError:
        return None
    getuid = getattr(os, "getuid", None)
    if getuid is not None and (info.st_uid != getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    path = os.path.join(directory, name)
    if getuid is not None and os.path.exists(path):
        file_info = os.stat(path)
        if file_info.st_uid != getuid() or file_info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
    if not os.access(directory, os.W_OK):
        return None
    return path
