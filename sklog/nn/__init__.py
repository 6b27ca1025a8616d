"""Torch building blocks, one module per block (imported only by the neural estimators)."""

from ._cnn import MirroredDeconvDecoder, MultiKernelCNNEncoder
from ._lstm import LSTMSessionEncoder, SiamesePairModule

__all__ = [
    "LSTMSessionEncoder",
    "MirroredDeconvDecoder",
    "MultiKernelCNNEncoder",
    "SiamesePairModule",
]
