"""Errors raised by embedders.

    EmbedError                       any failure to turn texts into vectors
    ├── EmbedderUnavailableError     the embedder cannot be built here: an optional extra is not installed
    └── EmbedderModelError           the model file is missing, corrupt, or not the pinned one

Every message says what failed and what to do (which package to install, which file to replace).
"""

from __future__ import annotations


class EmbedError(Exception):
    """Base class: no vectors were produced."""


class EmbedderUnavailableError(EmbedError):
    pass


class EmbedderModelError(EmbedError):
    pass
