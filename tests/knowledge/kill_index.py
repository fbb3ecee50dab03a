"""Index a folder and SIGKILL this process right after one write step (crash tests).

python -m tests.knowledge.kill_index DATA_DIR DOCS_DIR STEP
(STEP: chroma.upsert, catalog.add_chunks, catalog.commit_documents, … see faults.py)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from knowledge.embeddings import default_embedder
from knowledge.index import KnowledgeIndex
from tests.knowledge.faults import observe


def main(data_dir: str, docs: str, step: str) -> None:
    index = KnowledgeIndex(data_dir=Path(data_dir), embedder=default_embedder())

    def die_after(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    observe(index, after=die_after)
    index.sync(Path(docs))
    raise SystemExit("the index run was not killed")


if __name__ == "__main__":
    main(*sys.argv[1:])
