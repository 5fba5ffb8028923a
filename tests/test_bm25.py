"""webagent.bm25 gives rank_bm25's BM25Okapi scores to the bit, on corpora built to
hit its corners: terms in more than half the documents (negative idf, floored),
repeated query terms, query terms no document has, documents of one token."""

import math
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi as Reference

from webagent.bm25 import BM25Okapi, term_counts


def corpus(rng: random.Random, size: int, vocabulary: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (i + 1) for i in range(vocabulary)]  # a few very common words: negative idf
    return [rng.choices(words, weights, k=rng.randint(1, 12)) for _ in range(size)]


@pytest.mark.parametrize("seed", range(8))
def test_scores_equal_rank_bm25s_to_the_bit(seed):
    rng = random.Random(seed)
    docs = corpus(rng, rng.choice([1, 2, 5, 50, 400]), rng.choice([3, 20, 200]))
    ours = BM25Okapi([term_counts(d) for d in docs])
    reference = Reference(docs)
    for _ in range(20):
        query = rng.choices([*{w for d in docs for w in d}, "absent"], k=rng.randint(1, 8))
        assert np.array_equal(ours.scores(query), reference.get_scores(query)), query


def test_common_terms_get_the_epsilon_floor_and_repeats_count_twice():
    docs = [["the", "cat"], ["the", "dog"], ["the", "bird"]]
    ours = BM25Okapi([term_counts(d) for d in docs])
    assert ours.idf == Reference(docs).idf
    raw = {w: math.log(3 - n + 0.5) - math.log(n + 0.5) for w, n in {"the": 3, "cat": 1, "dog": 1, "bird": 1}.items()}
    assert raw["the"] < 0 and ours.idf["the"] == 0.25 * sum(raw.values()) / 4  # the floor, not the negative idf
    once, twice = ours.scores(["cat"]), ours.scores(["cat", "cat"])
    assert twice[0] == 2 * once[0] > 0 and once[1] == once[2] == 0.0


def test_no_documents_is_an_error():
    with pytest.raises(ValueError, match="at least one document"):
        BM25Okapi([])
