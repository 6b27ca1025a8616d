"""Shared plumbing: input validation, template vocabulary, device and seeding."""

from ._torch import (
    resolve_device,
    seed_from_random_state,
    to_numpy,
    torch_generator,
    torch_seed,
    torch_threads,
)
from ._transitions import TransitionMemory
from ._validation import (
    DEFAULT_MAX_LINE_LENGTH,
    LineTruncationWarning,
    check_session_labels,
    check_sessions,
)
from ._vocabulary import OOV_ID, PAD_ID, TemplateVocabulary, pad_sequences

__all__ = [
    "DEFAULT_MAX_LINE_LENGTH",
    "LineTruncationWarning",
    "OOV_ID",
    "PAD_ID",
    "TemplateVocabulary",
    "TransitionMemory",
    "check_session_labels",
    "check_sessions",
    "pad_sequences",
    "resolve_device",
    "seed_from_random_state",
    "to_numpy",
    "torch_generator",
    "torch_seed",
    "torch_threads",
]
