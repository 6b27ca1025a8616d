"""2-D maps of session embeddings, coloured by label, with misclassified sessions marked."""

from __future__ import annotations

import numpy as np


def _reduce(Z, method, random_state):
    if Z.shape[1] <= 2:
        return np.column_stack([Z, np.zeros((len(Z), 2 - Z.shape[1]))])
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(Z)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(1, (len(Z) - 1) / 3)))
        return TSNE(n_components=2, perplexity=perplexity, init="pca",
                    random_state=random_state).fit_transform(Z)
    try:
        import umap
    except ImportError as exc:
        raise ImportError("method='umap' needs the umap-learn package") from exc
    return umap.UMAP(n_components=2, random_state=random_state).fit_transform(Z)


def plot_embedding(
    estimator, X, y=None, *, y_pred=None, method="pca", ax=None, random_state=0, **scatter_kwargs
):
    """Scatter the sessions' embeddings in 2-D, coloured by label, misclassified ringed.

    Parameters
    ----------
    estimator : fitted estimator with ``transform``, or None
        Embeds ``X`` (e.g. a fitted :class:`sklog.SiameseClassifier`). ``None``:
        ``X`` is already an ``(n, d)`` array of embeddings.
    X : sessions, or array of shape (n, d) when ``estimator`` is None
    y : array-like of shape (n,), optional
        True labels, used for colour. Without them all points share a colour.
    y_pred : array-like of shape (n,), optional
        Predicted labels; by default ``estimator.predict(X)`` when the
        estimator can predict and ``y`` is given. Sessions where it differs
        from ``y`` are drawn with a black ring.
    method : {"pca", "tsne", "umap"}, default="pca"
        The 2-D projection (``"umap"`` needs umap-learn).
    ax : matplotlib Axes, optional
    random_state : int, default=0
        Seeds t-SNE / UMAP.
    **scatter_kwargs
        Passed to ``ax.scatter``.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklog.plotting import plot_embedding
    >>> Z = np.random.RandomState(0).normal(size=(20, 5))
    >>> ax = plot_embedding(None, Z, y=[0] * 10 + [1] * 10, y_pred=[0] * 20)
    >>> ax.get_title()
    'PCA of embeddings (10 misclassified)'
    """
    if method not in ("pca", "tsne", "umap"):
        raise ValueError(f"method must be 'pca', 'tsne' or 'umap', got {method!r}.")
    import matplotlib.pyplot as plt

    Z = np.asarray(X if estimator is None else estimator.transform(X), dtype=float)
    if Z.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got shape {Z.shape}.")
    if y is not None and y_pred is None and estimator is not None and hasattr(estimator, "predict"):
        y_pred = estimator.predict(X)
    points = _reduce(Z, method, random_state)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    if y is None:
        ax.scatter(points[:, 0], points[:, 1], s=12, **scatter_kwargs)
    else:
        y = np.asarray(y)
        for label in np.unique(y):
            mask = y == label
            name = {0: "normal", 1: "anomaly"}.get(label, str(label))
            ax.scatter(points[mask, 0], points[mask, 1], s=12, label=name, alpha=0.7,
                       **scatter_kwargs)
    wrong = 0
    if y is not None and y_pred is not None:
        miss = np.asarray(y_pred) != np.asarray(y)
        wrong = int(miss.sum())
        if wrong:
            ax.scatter(points[miss, 0], points[miss, 1], s=60, facecolors="none",
                       edgecolors="black", linewidths=1.0, label="misclassified")
    if y is not None:
        ax.legend(loc="best")
    title = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[method]
    ax.set_title(f"{title} of embeddings" + (f" ({wrong} misclassified)" if y_pred is not None
                                             and y is not None else ""))
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    return ax
