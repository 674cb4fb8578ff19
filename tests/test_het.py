"""Het-IEN: heterogeneous feature groups, pooled and constrained per group size."""

import pytest
import torch

from eqlab.groups import group_elements, group_pool, het_layout
from eqlab.metrics.equivariance import equivariance_loss, layer_terms, stack_orbit
from eqlab.models import build_model

C4 = group_elements("r4")


@pytest.mark.parametrize("sizes,fields,share", [((4, 2, 1), 16, 0.6875), ((8, 4, 2, 1), 16, 0.6719), ((8, 4, 2), 16, 0.6875)])
def test_het_layout_channel_share(sizes, fields, share):
    lay = het_layout(fields, sizes)
    assert sum(n for n, _ in lay) == fields
    assert sum(n * g for n, g in lay) / (fields * sizes[0]) == pytest.approx(share, abs=0.01)


def test_het_layout_rejects_bad_sizes():
    with pytest.raises(ValueError, match="must decrease"):
        het_layout(8, (2, 4))
    with pytest.raises(ValueError, match="dividing"):
        het_layout(8, (4, 3))


def test_group_pool_with_layout():
    h = torch.arange(2 * 7 * 1 * 1, dtype=torch.float32).view(2, 7, 1, 1)
    out = group_pool(h, ((1, 4), (1, 2), (1, 1)))
    assert out[0, :, 0, 0].tolist() == [3.0, 5.0, 6.0]
    with pytest.raises(ValueError, match="covers 6 channels"):
        group_pool(h, ((1, 4), (1, 2)))


def test_each_block_answers_only_for_its_own_group():
    """Block Λ=4 rotates with every quarter turn, block Λ=2 only with the half turn, block Λ=1 is junk:
    the loss is zero. Breaking the Λ=2 block at rot180 makes only that element non-zero."""
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(3, 1, 6, 6, generator=gen)
    layout = ((1, 4), (1, 2), (1, 1))

    def orbit(break_half_turn: bool) -> torch.Tensor:
        outs = []
        for k, g in enumerate(C4):
            b4 = g.apply(base).repeat(1, 4, 1, 1)
            b2 = g.apply(base) if k in (0, 2) else torch.rand(3, 1, 6, 6, generator=gen)
            if break_half_turn and k == 2:
                b2 = torch.rand(3, 1, 6, 6, generator=gen)
            b2 = b2.repeat(1, 2, 1, 1)
            b1 = torch.rand(3, 1, 6, 6, generator=gen)
            outs.append(torch.cat([b4, b2, b1], dim=1))
        return torch.cat(outs)

    sq, _, cnt = layer_terms(orbit(False), C4, layout)
    assert sq.abs().max() == 0
    assert cnt.tolist() == [3 * 36, 2 * 3 * 36, 3 * 36]  # rot180 is asked of both cyclic blocks
    sq, _, _ = layer_terms(orbit(True), C4, layout)
    assert sq[0] == 0 and sq[1] > 0 and sq[2] == 0


def test_het_model_shapes_and_loss():
    torch.manual_seed(0)
    model = build_model("rotmnist6", width=0.5, het=[4, 2, 1])
    full = build_model("rotmnist6", width=0.5)
    share = sum(t.channels for t in model.taps) / sum(t.channels for t in full.taps)
    assert 0.6 < share < 0.75
    x = torch.rand(2, 1, 28, 28)
    logits, taps = model.forward_taps(stack_orbit(x, C4))
    assert logits.shape == (8, 10)
    loss = equivariance_loss(taps, C4, [t.blocks for t in model.taps])
    assert torch.isfinite(loss) and loss > 0
    with pytest.raises(ValueError, match="must start with the group size 4"):
        build_model("rotmnist6", het=[2, 1])


def test_upsampled_input_variant_keeps_rot90_grids_exact():
    """The Scale-MNIST 56×56 variant (×2 bilinear upsampling at the input) keeps every grid centred:
    a C4-symmetric first layer stays exactly rot90-equivariant through the upsampling."""
    torch.manual_seed(0)
    model = build_model("rotmnist6", width=0.125, upsample=2).double().eval()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    _, taps = model.forward_taps(x)
    assert [tuple(t.shape[-2:]) for t in taps] == [(48, 48), (24, 24), (24, 24), (12, 12), (12, 12), (8, 8)]
    up = model.blocks[0][0]
    g = C4[1]
    assert torch.allclose(up(g.apply(x)), g.apply(up(x)), atol=1e-12)
