"""Index a folder and SIGKILL this process right after one Chroma write (crash tests).

python -m tests.knowledge.kill_index DATA_DIR DOCS_DIR upsert|delete
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from knowledge.embeddings import default_embedder
from knowledge.index import KnowledgeIndex


class _DieAfter:
    """Chroma's collection, but the process dies as soon as `method` returns."""

    def __init__(self, real: Any, method: str) -> None:
        self._real, self._method = real, method

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._method:
            return attr

        def then_die(*args: Any, **kwargs: Any) -> Any:
            attr(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        return then_die


def main(data_dir: str, docs: str, method: str) -> None:
    index = KnowledgeIndex(data_dir=Path(data_dir), embedder=default_embedder())
    index._collection = _DieAfter(index._collection, method)
    index.sync(Path(docs))
    raise SystemExit("the index run was not killed")


if __name__ == "__main__":
    main(*sys.argv[1:])
