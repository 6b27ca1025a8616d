"""Torch building blocks, one module per block (imported only by the neural estimators)."""

from ._cnn import MirroredDeconvDecoder, MultiKernelCNNEncoder
from ._data import LengthBucketSampler, SessionDataset
from ._detector import SessionDetectorMixin
from ._embedding import TEMPLATE_EMBEDDINGS, TemplateEmbedding
from ._estimator import SessionModelMixin
from ._lstm import LSTMSessionEncoder, SiameseModule
from ._net import SessionNet, silent
from ._pair_data import PairDataset, ResamplePairs
from ._pair_sampling import all_pairs, kpone_pairs

__all__ = [
    "LSTMSessionEncoder",
    "LengthBucketSampler",
    "MirroredDeconvDecoder",
    "MultiKernelCNNEncoder",
    "PairDataset",
    "ResamplePairs",
    "SessionDataset",
    "SessionDetectorMixin",
    "SessionModelMixin",
    "SessionNet",
    "SiameseModule",
    "TEMPLATE_EMBEDDINGS",
    "TemplateEmbedding",
    "all_pairs",
    "kpone_pairs",
    "silent",
]
