"""A differentiable surrogate of one class's IoU: the Lovasz extension of the Jaccard loss.

The Jaccard loss of a set of predicted pixels, ``1 - |P & G| / |P | G|``, is submodular; its
Lovasz extension (Berman, Rannen Triki and Blaschko, CVPR 2018) evaluates it on a vector of
per-pixel errors ``e = |g - p|`` (``g`` 1 on the class's pixels, ``p`` the class probability): sort
the errors in decreasing order and weigh each by how much the Jaccard loss grows when that pixel
joins the set of mispredicted ones. The extension is piecewise linear, equals the Jaccard loss
exactly when ``p`` is 0 or 1 everywhere, and its gradient weighs each error by what it costs the
IoU of the class (pooled over the batch), where cross-entropy weighs every pixel alike and is
dominated by the many easy background pixels: an outline that spills onto the table costs IoU
whatever the network's confidence there.
"""

from __future__ import annotations

import torch


def lovasz_jaccard_weights(sorted_truth: torch.Tensor) -> torch.Tensor:
    """(N,) weight of each error, given the truth (N,) float 0/1 ordered by decreasing error:
    the Jaccard loss with the first k pixels wrong minus that with the first k - 1 wrong."""
    positives = sorted_truth.sum()
    intersection = positives - sorted_truth.cumsum(0)
    union = positives + (1.0 - sorted_truth).cumsum(0)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def lovasz_class_loss(
    logits: torch.Tensor, labels: torch.Tensor, class_index: int, ignore_index: int = 255
) -> torch.Tensor:
    """Lovasz-softmax loss of one class over the whole batch (its pixels pooled, so images
    without the class still count its false pixels).

    Args:
        logits: (B, K, H, W) segmentation logits.
        labels: (B, H, W) int64 labels; ``ignore_index`` pixels are left out.
        class_index: the class whose IoU is optimised (e.g. the transparent class).
        ignore_index: label of unlabelled pixels.
    Returns:
        Scalar tensor in [0, 1] with gradient; 0 when no pixel is labelled. With no pixel of the
        class labelled it is the largest probability given to the class (one false pixel makes
        the IoU 0).
    """
    if logits.dim() != 4 or labels.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"logits (B, K, H, W) and labels (B, H, W) expected, got {tuple(logits.shape)}, {tuple(labels.shape)}"
        )
    probability = torch.softmax(logits.float(), dim=1)[:, class_index].reshape(-1)
    labels = labels.reshape(-1)
    keep = labels != ignore_index
    if not bool(keep.any()):
        return logits.sum() * 0.0
    probability, truth = probability[keep], (labels[keep] == class_index).to(probability.dtype)
    errors = (truth - probability).abs()
    sorted_errors, order = torch.sort(errors, descending=True)
    weights = lovasz_jaccard_weights(truth[order])
    return torch.dot(sorted_errors, weights.detach())
