"""An exact, in-memory cosine index over a few thousand texts (numpy, no vector database).

For small sets built once per process, such as ``KNNFewShot``'s trainset; a corpus that
should be stored and reused belongs in a vector-database retriever (``lmdsl-qdrant``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmdsl.embeddings.protocol import SupportsEmbed
from lmdsl.errors import UsageTypeError
from lmdsl.retrievers.passage import Passage


class DenseIndex:
    """``DenseIndex(embedder, passages, k=3)``: a retriever ranking passages by cosine similarity.

    ``passages`` are :class:`~lmdsl.Passage` objects (their ``long_text`` is embedded) or
    plain strings (ids are then positions). ``score`` is the cosine similarity.
    """

    def __init__(self, embedder: SupportsEmbed, passages: Sequence[Passage | str], *, k: int = 3):
        import numpy as np

        self.embedder = embedder
        self.k = k
        self.passages = [p if isinstance(p, Passage) else Passage(text=p, id=str(i)) for i, p in enumerate(passages)]
        vectors = np.asarray(embedder.embed([p.long_text for p in self.passages]), dtype=np.float32)
        self._vectors = _normalise(vectors)

    def __call__(self, query: str, k: int | None = None) -> list[Passage]:
        return self.batch([query], k)[0]

    def batch(self, queries: Sequence[str], k: int | None = None) -> list[list[Passage]]:
        import numpy as np

        if isinstance(queries, str):
            raise UsageTypeError("batch() takes a list of queries; call the index itself for one query")
        k = self.k if k is None else k
        if not queries:
            return []
        scores = _normalise(np.asarray(self.embedder.embed(list(queries)), dtype=np.float32)) @ self._vectors.T
        kk = min(k, len(self.passages))
        out: list[list[Passage]] = []
        for row in scores:
            order = np.lexsort((np.arange(len(row)), -row))[:kk]  # best first, ties in corpus order
            out.append([_with_score(self.passages[j], float(row[j])) for j in order])
        return out

    def __len__(self) -> int:
        return len(self.passages)

    def __deepcopy__(self, memo: dict[int, Any]) -> DenseIndex:
        return self  # read-only after construction


def _normalise(vectors: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _with_score(p: Passage, score: float) -> Passage:
    return Passage(text=p.text, title=p.title, id=p.id, score=score)
