"""The word-novelty detector on raw HDFS blocks (its rows on raw BGL are in ``bgl_raw``).

It reads the raw lines (no ``DrainTemplater``): words are whitespace tokens
after masking hexadecimal values and digit runs, so block ids, sizes and
addresses are never new.
"""

from __future__ import annotations

from ...methods import get_method
from .._registry import register


@register("hdfs_raw", "natural", get_method("novelty").label, method_name="novelty")
def _word_novelty(random_state):
    return get_method("novelty").build(random_state)
