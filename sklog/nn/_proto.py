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


class ClassifierMLP(nn.Module):
    """An MLP from features to class logits (MAML's learner; no dropout, see MAMLNet)."""

    def __init__(self, n_features, hidden=(64,), n_classes=2):
        super().__init__()
        self.layers = mlp(n_features, hidden, n_classes, 0.0)

    def forward(self, X):
        return self.layers(X)


def maml_loss(module, support, support_y, query, query_y, inner_lr, inner_steps, first_order):
    """Mean query loss of a batch of tasks after ``inner_steps`` SGD steps on each support set.

    ``torch.func``: the inner steps are ``grad`` of a ``functional_call`` from the
    module's parameters, and ``vmap`` runs every task of the batch at once. The
    outer gradient flows through the inner steps (second order) unless
    ``first_order``, where the inner gradients are treated as constants.
    """
    from torch.func import functional_call, grad, vmap

    params = dict(module.named_parameters())

    def loss(p, x, y):
        return nn.functional.cross_entropy(functional_call(module, p, (x,)), y)

    def task(sx, sy, qx, qy):
        p = params
        for _ in range(inner_steps):
            g = grad(loss)(p, sx, sy)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            p = {k: p[k] - inner_lr * g[k] for k in p}
        return loss(p, qx, qy)

    return vmap(task)(support, support_y, query, query_y).mean()


class MAMLNet(NeuralNet):
    """A ``NeuralNet`` whose batch is a batch of episodes and whose loss is MAML's."""

    def __init__(self, *args, inner_lr=0.1, inner_steps=1, first_order=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.inner_lr, self.inner_steps, self.first_order = inner_lr, inner_steps, first_order

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        features, query_y = batch
        to = self.device
        loss = maml_loss(self.module_, features["support"].to(to),
                         features["support_y"].to(to), features["query"].to(to),
                         query_y.to(to), self.inner_lr, self.inner_steps, self.first_order)
        loss.backward()
        return {"loss": loss, "y_pred": loss.detach()}
