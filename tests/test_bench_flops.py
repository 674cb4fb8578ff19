"""bench/flops.py and bench/steps.py: FLOP counts agree with FlopCounterMode and with hand counts, the
peak measurement is a positive rate, the report names every architecture."""

from __future__ import annotations

import math
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from conftest import ROOT
from eqlab.models.base import Tap, TappedModel
from eqlab.params import ParamError, load_params
from eqlab.train.loop import TrainSpec

sys.path.insert(0, str(ROOT / "bench"))
import flops  # noqa: E402
import steps  # noqa: E402


@pytest.fixture(scope="module")
def params() -> dict:
    return load_params(ROOT / "params.yaml")


@pytest.mark.parametrize(
    ("n", "c_in", "c_out", "size", "k", "pad", "stride", "groups"),
    [(2, 3, 8, 9, 3, 1, 1, 1), (1, 4, 6, 12, 7, 3, 2, 2), (3, 1, 5, 28, 9, 0, 1, 1), (2, 8, 8, 5, 5, 0, 1, 4)],
)
def test_analytic_conv_flops_equal_flop_counter(n, c_in, c_out, size, k, pad, stride, groups):
    x = torch.empty(n, c_in, size, size, device="meta")
    w = torch.empty(c_out, c_in // groups, k, k, device="meta")
    out = flops.conv_out_size(size, k, pad, stride)
    with FlopCounterMode(display=False) as counter:
        y = F.conv2d(x, w, stride=stride, padding=pad, groups=groups)
    assert y.shape[-1] == out
    assert counter.get_total_flops() == flops.conv2d_flops(n, c_in, c_out, out, out, k, groups=groups)


@pytest.mark.parametrize(("size", "k", "pad", "stride"), [(8, 3, 1, 1), (5, 7, 3, 1), (10, 7, 3, 2), (20, 9, 0, 1)])
def test_valid_taps_count_the_pairs_that_read_the_image(size, k, pad, stride):
    """Σ conv(1, 1) over the output counts exactly the (output, tap) pairs inside the image."""
    ones = F.conv2d(torch.ones(1, 1, size, size + 1), torch.ones(1, 1, k, k), padding=pad, stride=stride)
    expected = flops.valid_taps(size, k, pad, stride) * flops.valid_taps(size + 1, k, pad, stride)
    assert int(ones.sum()) == expected
    assert expected <= flops.conv_out_size(size, k, pad, stride) * flops.conv_out_size(size + 1, k, pad, stride) * k * k


class TinyNet(TappedModel):
    """conv 1 → 4 (3×3, pad 1) on 8×8, one tap of 4-channel groups, then a linear classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(1, 4, 3, padding=1))])
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
        self.taps = (Tap("conv1", 4, 4),)


def _tiny_case(augment: bool, beta: float) -> steps.StepCase:
    spec = TrainSpec(1, 0, 2, 1e-4, 1e-3, 0.25, 0.0, augment, beta, 0)
    return steps.StepCase("tiny", "tiny", "tiny", {"n_classes": 10}, (1, 8, 8), "r4", spec)


@pytest.mark.parametrize(("augment", "beta", "copies"), [(True, 0.01, 4), (False, 0.0, 1)])
def test_step_flops_of_a_tiny_model_match_a_hand_count(augment, beta, copies):
    n = 2 * copies  # images the net sees in one step
    conv = 2 * n * 4 * 8 * 8 * 1 * 9  # forward; backward: the weight gradient only (the image needs none)
    linear = 2 * n * 256 * 10  # forward; backward: input and weight gradients
    count = steps.step_flops(_tiny_case(augment, beta), TinyNet())
    assert count.total == 2 * conv + 3 * linear
    assert count.conv == 2 * conv
    useful = (8 * 3 - 2) ** 2 / (8 * 8 * 9)  # 3×3 taps, pad 1, on 8×8: 22 useful per axis
    assert count.padding == pytest.approx((1 - useful) * 2 * conv)
    assert count.padding_excluded == pytest.approx(2 * conv * useful + 3 * linear)


def test_conv_hooks_account_for_every_counted_conv_flop(params):
    """The padding bookkeeping sees the same convs as FlopCounterMode, on a pipeline step (IEN, R4)."""
    case = steps.step_case(params, "ien_r4")
    case = replace(case, spec=replace(case.spec, batch_size=4))
    model = case.model()
    with FlopCounterMode(display=False) as counter, flops.record_convs(model) as calls:
        steps._runner(case, model, 1)()
    counted = sum(v for op, v in counter.get_flop_counts()["Global"].items() if str(op) in flops.CONV_OPS)
    assert sum(c.flops * c.passes for c in calls) == counted
    assert len(calls) == 6 and calls[0].passes == 2 and all(c.passes == 3 for c in calls[1:])
    assert all(0 < c.useful <= 1 for c in calls) and calls[0].useful == 1  # conv1: 9×9, no padding


def test_reference_rows_time_each_small_step_against_the_issue_11_settings(params):
    """One row per small-profile run, both sides timed (the pair function sees ours first, then the reference,
    which runs with deterministic mode's NaN fill), and the process's deterministic settings restored."""
    import torch.utils.deterministic as det

    seen = []

    def pair(ours, reference, repeats):
        ours()
        seen.append(det.fill_uninitialized_memory)
        reference()
        seen.append(det.fill_uninitialized_memory)
        return 2.0, 3.0, 2.0 / 3.0

    before = (torch.are_deterministic_algorithms_enabled(), det.fill_uninitialized_memory)
    rows = steps.reference_rows(params, 1, 1, "cpu", pair)
    assert [r["figure"].split(":")[0] for r in rows] == [
        f"train step {steps.step_case(params, run).label}" for run in steps.SMALL_RUNS]
    assert seen == [False, True] * len(steps.SMALL_RUNS)
    assert rows[0]["ours"] == pytest.approx(steps.step_case(params, "ien_r4").spec.batch_size / 2.0)
    assert all(r["ratio_time"] == pytest.approx(2 / 3) for r in rows)
    assert (torch.are_deterministic_algorithms_enabled(), det.fill_uninitialized_memory) == before


def test_step_cases_follow_the_params(params):
    cases = steps.bench_cases(params)
    assert [c.arch for c in cases] == ["rotmnist6", "vgg", "resnet18", "rotmnist6"]
    small = params["train"]["small"]
    assert cases[0].kwargs["width"] == small["width"]
    assert cases[1].kwargs["width"] == small["arch_width"]["vgg"] and cases[1].kwargs["input_size"] == small["input_size"]
    assert cases[2].kwargs["input_size"] == small["input_size"] + 1
    assert cases[3].kwargs["width"] == params["train"]["paper"]["width"] and cases[3].spec.batch_size == 32
    assert all(c.copies == 4 and c.spec.beta > 0 for c in cases)
    with pytest.raises(ValueError, match="family 'e2cnn'"):
        steps.step_case(params, "e2cnn_c4")
    with pytest.raises(ParamError, match="'nope'; allowed values"):
        steps.step_case(params, "nope")


def test_peak_measurement_is_a_positive_finite_rate():
    for peak in (flops.conv_peak(batch=1, channels=4, size=8, repeats=2), flops.matmul_peak(n=32, repeats=2)):
        assert peak.flops == peak.counted > 0
        assert math.isfinite(peak.gflops) and peak.gflops > 0
    with pytest.raises(ValueError, match="repeats"):
        flops.median_seconds(lambda: None, 0)


def test_report_names_every_architecture(params):
    cases = steps.bench_cases(params)
    conv = flops.Peak("conv", 10**9, 10**9, 0.01, "aten::mkldnn_convolution")  # 100 GFLOP/s
    rows = [steps.StepRow(c.label, c.arch, c.spec.batch_size, 4 * c.spec.batch_size, 10**9, 8e8, 0.1) for c in cases]
    report = steps.FlopsReport(conv, conv, conv, rows, 123.0)
    text = steps.format_flops(report, "header")
    for arch in ("rotmnist6", "vgg", "resnet18"):
        assert arch in text
    assert all(c.label in text for c in cases) and "| 10.0 |" in text  # 10 GFLOP/s = 10 % of the peak
    data = steps.flops_json(report)
    assert [s["arch"] for s in data["steps"]] == [c.arch for c in cases]
    assert data["steps"][0]["fraction_of_conv_peak"] == pytest.approx(0.1) and data["peak_drift"] == 1.0
    slow = flops.Peak("conv", 10**9, 10**9, 0.02, "aten::mkldnn_convolution")  # 50 GFLOP/s
    for before, after in ((slow, conv), (conv, slow)):  # % of the faster conv run, either order
        later = steps.flops_json(steps.FlopsReport(before, conv, after, rows, 1.0))
        assert later["steps"][0]["fraction_of_conv_peak"] == pytest.approx(0.1)
    assert steps.FlopsReport(conv, conv, slow, rows, 1.0).drift == pytest.approx(0.5)
    profiles = steps.format_profiles({c.label: [{"op": "aten::x", "self_cpu_ms": 1.0, "share": 0.5, "calls": 2}]
                                      for c in cases})
    assert all(f"## {c.label}" in profiles for c in cases)


def test_gpu_compute_rows_and_their_peak(params):
    """On a GPU the paper step is also timed with train.compute's options (labels name them; the TrainSpec
    carries them), and bf16 rows are measured against the bf16 conv peak; a CPU bench has no such rows."""
    cpu, gpu = steps.bench_cases(params, "cpu"), steps.bench_cases(params, "cuda")
    assert len(gpu) == len(cpu) + len(steps.GPU_COMPUTE)
    extra = gpu[len(cpu):]
    assert [(c.spec.precision, c.spec.channels_last) for c in extra] == list(steps.GPU_COMPUTE)
    assert extra[0].label.endswith(", channels-last") and extra[2].label.endswith(", bf16, channels-last")
    assert all(c.spec.batch_size == cpu[-1].spec.batch_size and c.kwargs == cpu[-1].kwargs for c in extra)
    fp32 = flops.Peak("conv", 10**9, 10**9, 0.01, "k")  # 100 GFLOP/s
    bf16 = flops.Peak("conv bf16", 10**9, 10**9, 0.002, "k")  # 500 GFLOP/s
    rows = [steps.StepRow("a", "x", 1, 4, 10**9, 8e8, 0.1), steps.StepRow("b", "x", 1, 4, 10**9, 8e8, 0.1, "bf16")]
    data = steps.flops_json(steps.FlopsReport(fp32, fp32, fp32, rows, 1.0, bf16))
    assert [s["fraction_of_conv_peak"] for s in data["steps"]] == pytest.approx([0.1, 0.02])
    assert "the bf16 rows' peak" in steps.format_flops(steps.FlopsReport(fp32, fp32, fp32, rows, 1.0, bf16), "h")
