import pytest
import torch

from eqlab.groups import group_elements
from eqlab.metrics.equivariance import equivariance_loss, layer_terms, measure_equivariance, stack_orbit
from eqlab.models import build_model

C4 = group_elements("r4")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _warm(model, x):
    """A few train-mode passes so BatchNorm statistics are not the trivial initial ones."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(stack_orbit(x, C4))
    return model.eval()


def test_e2cnn_c4_model_is_equivariant_to_float_noise(images):
    torch.manual_seed(0)
    model = _warm(build_model("rotmnist6", "e2cnn", width=0.125, group="r4"), images)
    eq = measure_equivariance(model, images, C4)
    for layer, v in eq.items():
        assert v["abs"] < 1e-8, (layer, v)
        assert v["rel"] < 1e-8, (layer, v)
    with torch.no_grad():
        _, taps = model.forward_taps(stack_orbit(images, C4))
        assert equivariance_loss(taps, C4, [t.group_size for t in model.taps]).item() < 1e-8


def test_random_cnn_is_not_equivariant(images):
    torch.manual_seed(0)
    model = _warm(build_model("rotmnist6", width=0.125), images)
    eq = measure_equivariance(model, images, C4)
    assert all(v["rel"] > 1e-3 for v in eq.values()), eq


def test_loss_and_metric_agree(images):
    torch.manual_seed(1)
    model = _warm(build_model("rotmnist6", width=0.125), images)
    with torch.no_grad():
        _, taps = model.forward_taps(stack_orbit(images, C4))
        loss = equivariance_loss(taps, C4, [t.group_size for t in model.taps]).item()
    eq = measure_equivariance(model, images, C4, batch_size=3)  # batching must not change the value
    assert sum(v["abs"] for v in eq.values()) == pytest.approx(loss, rel=1e-4)


def test_layer_terms_direction():
    """A map that rotates *with* the input scores 0; one that stays put does not."""
    base = torch.rand(2, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    moving = torch.cat([g.apply(base) for g in C4])
    fixed = base.repeat(4, 1, 1, 1)
    assert layer_terms(moving, C4, 4)[0].abs().max() == 0
    assert layer_terms(fixed, C4, 4)[0].min() > 0


def test_relative_error_ignores_activation_scale():
    base = torch.rand(2, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    stacked = torch.cat([base + 0.1 * i for i in range(4)])
    sq, rf, _ = layer_terms(stacked, C4, 4)
    sq2, rf2, _ = layer_terms(10 * stacked, C4, 4)
    assert torch.allclose(sq / rf, sq2 / rf2)
    assert torch.allclose(sq2, 100 * sq)
