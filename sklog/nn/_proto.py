"""Prototypical-network blocks: an MLP embedding, episode logits, a one-episode skorch net."""

from __future__ import annotations

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn


def mlp(n_features, hidden, out_dim, dropout):
    """``Linear -> ReLU -> Dropout`` per hidden width, then a linear map to ``out_dim``."""
    layers, width = [], n_features
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
        width = units
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class PrototypeModule(nn.Module):
    """Embeds an episode's support and query rows; a query row's logits are minus its
    squared distances to the class means (prototypes) of the support embeddings."""

    def __init__(self, n_features, hidden=(64,), embedding_dim=32, dropout=0.1):
        super().__init__()
        self.encoder = mlp(n_features, hidden, embedding_dim, dropout)

    def forward(self, support, support_y, query, n_classes):
        support, support_y, query = support[0], support_y[0], query[0]  # one episode
        emb = self.encoder(support)
        onehot = nn.functional.one_hot(support_y, int(n_classes[0])).to(emb.dtype)
        prototypes = (onehot.T @ emb) / onehot.sum(0).clamp(min=1).unsqueeze(1)
        return -torch.cdist(self.encoder(query), prototypes).pow(2)


class EpisodeNet(NeuralNet):
    """A ``NeuralNet`` whose batch is one episode: its query labels are flattened."""

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        return super().get_loss(y_pred, y_true.reshape(-1), *args, **kwargs)


class NextEpisodes(Callback):
    """Draws fresh episodes each epoch: advances the training dataset's ``epoch``."""

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        dataset_train.epoch += 1


def episodes_as_is(episodes, y=None):
    """skorch's ``dataset``: the episode dataset already is one."""
    return episodes
