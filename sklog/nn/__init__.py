"""Torch building blocks, one module per block (imported only by the neural estimators)."""

from ._byte_cnn import ByteConvStack, DilatedResidualBlock
from ._cnn import MirroredDeconvDecoder, MultiKernelCNNEncoder
from ._data import LengthBucketSampler, SessionDataset
from ._detector import SessionDetectorMixin
from ._embedding import TEMPLATE_EMBEDDINGS, TemplateEmbedding
from ._estimator import SessionModelMixin
from ._losses import focal_loss, supervised_contrastive_loss
from ._lstm import LSTMSessionEncoder, SiameseModule
from ._mlstm import MLSTMLayer, mlstm_parallel, mlstm_recurrent
from ._net import SessionNet, silent
from ._pair_data import PairDataset, ResamplePairs
from ._pair_sampling import all_pairs, kpone_pairs
from ._pooling import FourWayPooling

__all__ = [
    "ByteConvStack",
    "DilatedResidualBlock",
    "FourWayPooling",
    "LSTMSessionEncoder",
    "MLSTMLayer",
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
    "focal_loss",
    "kpone_pairs",
    "mlstm_parallel",
    "mlstm_recurrent",
    "silent",
    "supervised_contrastive_loss",
]
