"""The Lovasz IoU surrogate: exact on hard predictions, a gradient that favours the pixels that
cost IoU, ignored pixels left out, and wired into a run's loss only when asked."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="training losses need torch (requirements-train.txt)")

from egsa_ros.losses import lovasz_class_loss  # noqa: E402

GLASS = 2


def _hard_logits(prediction: torch.Tensor, classes: int = 3) -> torch.Tensor:
    return torch.nn.functional.one_hot(prediction, classes).permute(0, 3, 1, 2).float() * 50.0


def test_on_hard_predictions_it_is_one_minus_the_iou():
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        labels = torch.randint(0, 3, (2, 12, 10), generator=g)
        prediction = torch.randint(0, 3, (2, 12, 10), generator=g)
        predicted, true = prediction == GLASS, labels == GLASS
        iou = float((predicted & true).sum()) / float((predicted | true).sum())
        assert float(lovasz_class_loss(_hard_logits(prediction), labels, GLASS)) == pytest.approx(1 - iou, abs=1e-5)
    perfect = torch.randint(0, 3, (1, 6, 6), generator=g)
    assert float(lovasz_class_loss(_hard_logits(perfect), perfect, GLASS)) == pytest.approx(0.0, abs=1e-6)


def test_ignored_pixels_do_not_count_and_an_all_ignored_batch_gives_zero_with_a_gradient():
    labels = torch.zeros((1, 4, 4), dtype=torch.long)
    labels[0, :2, :2] = GLASS
    prediction = labels.clone()
    prediction[0, 3, 3] = GLASS  # one false glass pixel: IoU 4/5
    assert float(lovasz_class_loss(_hard_logits(prediction), labels, GLASS)) == pytest.approx(0.2, abs=1e-5)
    labels[0, 3, 3] = 255  # ... which is now unlabelled
    assert float(lovasz_class_loss(_hard_logits(prediction), labels, GLASS)) == pytest.approx(0.0, abs=1e-6)
    logits = torch.zeros((1, 3, 4, 4), requires_grad=True)
    loss = lovasz_class_loss(logits, torch.full((1, 4, 4), 255), GLASS)
    loss.backward()
    assert float(loss.detach()) == 0.0 and logits.grad is not None
    with pytest.raises(ValueError, match="labels"):
        lovasz_class_loss(logits, torch.zeros((1, 3, 3), dtype=torch.long), GLASS)


def test_its_gradient_raises_unsure_glass_lowers_false_glass_and_leaves_confident_pixels_alone():
    labels = torch.zeros((1, 8, 8), dtype=torch.long)
    labels[0, 2:6, 2:6] = GLASS
    logits = torch.zeros((1, 3, 8, 8))
    logits[0, GLASS] = torch.where(labels[0] == GLASS, 6.0, -6.0)  # confident and right...
    logits[0, GLASS, 2, 2] = 0.0  # ... but one glass pixel unsure
    logits[0, GLASS, 7, 7] = 0.5  # ... and one background pixel leaning to glass
    logits.requires_grad_(True)
    lovasz_class_loss(logits, labels, GLASS).backward()
    grad = logits.grad[0, GLASS].abs()
    assert logits.grad[0, GLASS, 2, 2] < 0 and logits.grad[0, GLASS, 7, 7] > 0
    confident = grad.clone()
    confident[2, 2] = confident[7, 7] = 0
    assert float(confident.max()) < 0.05 * min(float(grad[2, 2]), float(grad[7, 7]))


def test_the_run_adds_it_only_when_its_weight_is_set():
    from egsa_ros.train.config import load_train_config
    from egsa_ros.train.objective import TrainingLoss

    cfg = load_train_config("default_small", ["loss.lovasz_weight=0.5"])
    mc = cfg.model_config()
    g = torch.Generator().manual_seed(0)
    h, w = 16, 20
    labels = torch.randint(0, mc.num_classes, (1, h, w), generator=g)
    batch = {
        "labels": labels,
        "depth": torch.rand(1, 1, h, w, generator=g) + 0.5,
        "valid": torch.ones(1, 1, h, w, dtype=torch.bool),
        "K": torch.tensor([[[20.0, 0, 10], [0, 20.0, 8], [0, 0, 1]]]),
    }
    depth_all = torch.rand(2, 1, 1, 1, h, w, generator=g) + 0.5
    seg_all = torch.randn(2, 1, 1, mc.num_classes, h, w, generator=g)
    with_it, parts = TrainingLoss(cfg.loss, mc, torch.device("cpu"))(depth_all, seg_all, batch)
    plain, plain_parts = TrainingLoss(load_train_config("default_small").loss, mc, torch.device("cpu"))(
        depth_all, seg_all, batch
    )
    expected = lovasz_class_loss(seg_all[-1, 0], labels, mc.transparent_class)
    assert "lovasz" not in plain_parts and float(parts["lovasz"]) == pytest.approx(float(expected))
    assert float(with_it) == pytest.approx(float(plain) + 0.5 * float(expected), rel=1e-6)
    assert float(parts["total"]) == pytest.approx(float(with_it))
    with pytest.raises(ValueError, match="lovasz_weight"):
        load_train_config("default_small", ["loss.lovasz_weight=-1"])
