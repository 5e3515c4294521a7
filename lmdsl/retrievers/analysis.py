"""Text analysis for BM25: lower-case, split on word characters, drop stopwords, stem.

The same analysis must run over the corpus (once, at index time) and over every query, so
it lives in one object that the retriever keeps.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from lmdsl.errors import ConfigError

logger = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")  # bm25s' and scikit-learn's default token pattern
STEM_CACHE_MAX = 200_000


class Analyzer:
    """Lower-case, split on word characters, drop English stopwords, stem.

    Snowball stemmer objects (PyStemmer's included) are not thread-safe, so stemming goes
    through a lock; a bounded cache keeps repeated query words off that lock.
    """

    def __init__(self, stemmer: str | bool | None):
        from bm25s.stopwords import STOPWORDS_EN

        if isinstance(stemmer, bool):
            stemmer = "english" if stemmer else None

        self._stop = frozenset(STOPWORDS_EN)
        self._stemmer: Any = None
        self.stemmer_id = "none"
        if stemmer is not None:
            try:
                import snowballstemmer
            except ImportError:
                if stemmer != "auto":
                    raise ConfigError(
                        f"stemmer={stemmer!r} needs the 'snowballstemmer' package (pip install snowballstemmer)"
                    ) from None
                logger.warning("snowballstemmer is not installed: BM25 indexes without stemming")
            else:
                language = "english" if stemmer == "auto" else stemmer
                try:
                    self._stemmer = snowballstemmer.stemmer(language)
                except (KeyError, ValueError):
                    raise ConfigError(
                        f"unknown stemmer language {language!r}; choose one of "
                        f"{', '.join(sorted(snowballstemmer.algorithms()))} or None"
                    ) from None
                self.stemmer_id = f"snowball:{language}"
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def words(self, text: str) -> list[str]:
        return [w for w in TOKEN_RE.findall(text.lower()) if w not in self._stop]

    def stem_map(self, words: Iterable[str]) -> dict[str, str]:
        """Map each distinct word to its stem (identity without a stemmer)."""
        unique = list(dict.fromkeys(words))
        if self._stemmer is None:
            return {w: w for w in unique}
        cache = self._cache
        result: dict[str, str] = {}
        missing: list[str] = []
        for w in unique:
            stem = cache.get(w)
            if stem is None:
                missing.append(w)
            else:
                result[w] = stem
        if missing:
            with self._lock:
                stems = self._stemmer.stemWords(missing)
                if len(cache) + len(missing) > STEM_CACHE_MAX:
                    cache.clear()
                cache.update(zip(missing, stems))
            result.update(zip(missing, stems))
        return result

    def analyze_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of many texts, stemming each distinct word once (the corpus-build path)."""
        split = [self.words(t) for t in texts]
        if self._stemmer is None:
            return split
        with self._lock:
            unique = list({w for doc in split for w in doc})
            stems = dict(zip(unique, self._stemmer.stemWords(unique)))
        return [[stems[w] for w in doc] for doc in split]

    def analyze(self, text: str) -> list[str]:
        words = self.words(text)
        stems = self.stem_map(words)
        return [stems[w] for w in words]
