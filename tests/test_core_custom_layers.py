"""What Torch-Pruning cannot trace, under prune(): Swin's window attention and patch merging, channel shuffles.

Swin: heads keep equal dims, pruned = masked, plans replay. ShuffleNetV2: nothing crossing a shuffle is pruned.
A hand-written shuffle: its group is left whole and reported. The rules live in :mod:`core_pruning.custom_layers`;
the full-size torchvision models are swept (slow) by ``tests/test_core_coverage.py``; here a small
``SwinTransformer`` (V1 and V2) keeps the default run fast.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import shufflenetv2
from torchvision.models import swin_transformer as swin

import core_pruning as cp
from core_pruning.counting import LayerShapes, count_macs
from core_pruning.custom_layers import PatchMergingPruner, WindowAttentionPruner
from core_pruning.training.masks import ChannelMasks

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def small_swin(version: int = 1, seed: int = 0) -> swin.SwinTransformer:
    torch.manual_seed(seed)
    kwargs = {} if version == 1 else {"block": swin.SwinTransformerBlockV2, "downsample_layer": swin.PatchMergingV2}
    return swin.SwinTransformer(patch_size=[4, 4], embed_dim=24, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                                num_classes=10, **kwargs).eval()


def attentions(model):
    return [m for m in model.modules() if isinstance(m, swin.ShiftedWindowAttention)]


def independent_macs(model, x) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("criterion", ["cpmc", "l1", "fpgm"])
def test_prune_swin_keeps_heads_equal_and_meets_the_flops_target(version, criterion):
    model = small_swin(version)
    heads_before = [a.num_heads for a in attentions(model)]
    widths_before = [a.qkv.in_features for a in attentions(model)]
    before = independent_macs(model, X)
    result = cp.prune(model, X, criterion=criterion, target_flops=0.5)
    with torch.no_grad():
        assert model(X).shape == (2, 10)
    assert result.report["unsupported"] == {}
    assert abs(independent_macs(model, X) / before - 0.5) <= 0.02
    assert [a.num_heads for a in attentions(model)] == heads_before  # head count never changes
    widths = [a.qkv.in_features for a in attentions(model)]
    assert widths != widths_before, "the residual widths (and head dims) were pruned"
    for a in attentions(model):
        width = a.qkv.in_features
        assert width % a.num_heads == 0 and a.qkv.out_features == 3 * width
        assert a.proj.in_features == a.proj.out_features == width


def test_swin_attention_products_are_counted_analytically():
    for version in (1, 2):
        model = small_swin(version)
        assert LayerShapes(model, X).flops() == count_macs(model, X) == independent_macs(model, X)


@pytest.mark.parametrize("version", [1, 2])
def test_pruned_window_attention_equals_the_attention_with_those_channels_zeroed(version):
    """The defining property of the rule: removing channel i (q/k/v dims and projections) = zeroing them all."""
    cls = swin.ShiftedWindowAttention if version == 1 else swin.ShiftedWindowAttentionV2
    torch.manual_seed(0)
    attn = cls(12, [4, 4], [2, 2], num_heads=3).eval()
    x = torch.randn(2, 8, 8, 12)
    drop = [0, 4, 8]  # local index 0 of each of the 3 heads (head dim 4)
    keep = [i for i in range(12) if i not in drop]
    masked = cls(12, [4, 4], [2, 2], num_heads=3).eval()
    masked.load_state_dict(attn.state_dict())
    with torch.no_grad():
        rows = [b * 12 + i for b in range(3) for i in drop]
        masked.qkv.weight[rows] = 0
        masked.qkv.bias[rows] = 0
        masked.proj.weight[drop] = 0
        masked.proj.bias[drop] = 0
        masked.proj.weight[:, drop] = 0
        x_masked = x.clone()
        x_masked[..., drop] = 0
        expected = masked(x_masked)[..., keep]
        WindowAttentionPruner()(attn, drop)
        got = attn(x[..., keep])
    assert attn.qkv.weight.shape == (27, 9) and attn.proj.weight.shape == (9, 9)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_window_attention_refuses_unequal_heads():
    attn = swin.ShiftedWindowAttention(12, [4, 4], [0, 0], num_heads=3)
    with pytest.raises(ValueError, match="heads of equal size"):
        WindowAttentionPruner()(attn, [0])


@pytest.mark.parametrize("version", [1, 2])
def test_patch_merging_pruner_keeps_the_four_slices_aligned(version):
    cls = swin.PatchMerging if version == 1 else swin.PatchMergingV2
    torch.manual_seed(0)
    merge = cls(6).eval()
    x = torch.randn(1, 4, 4, 6)
    pruner = PatchMergingPruner()
    pruner(merge, [1, 4], to_output=False)
    pruner(merge, [0, 2, 3], to_output=True)
    assert merge.reduction.weight.shape == (9, 16)
    assert merge(x[..., [0, 2, 3, 5]]).shape == (1, 2, 2, 9)
    if version == 1:  # the LayerNorm over the 4C concatenation lost the same position in each slice
        assert merge.norm.normalized_shape == (16,)


def test_swin_plan_replays_and_reloads(tmp_path):
    model = small_swin(1)
    result = cp.prune(model, X, criterion="cpmc", target_flops=0.6)
    with torch.no_grad():
        out = model(X)
    fresh = cp.apply_plan(small_swin(1), cp.PruningPlan.from_dict(result.plan.to_dict()), X)
    path = cp.save_pruned(model, result.plan, tmp_path / "swin.pt")
    loaded = cp.load_pruned(small_swin(1), path, X)
    with torch.no_grad():
        assert torch.equal(fresh(X), out)
        assert torch.equal(loaded(X), out)
    # the report follows the projections inside the attention: q, k and v lose the positions proj loses
    removed = result.report["removed"]
    proj, qkv = removed["features.1.0.attn.proj"], removed["features.1.0.attn.qkv"]
    assert qkv == [b * 24 + i for b in range(3) for i in proj]


def test_training_masks_count_swin_flops_like_the_pruned_model():
    model = small_swin(1)
    masks = ChannelMasks(model, X)
    assert float(masks.flops()) == count_macs(model, X)


def _block_widths(model: nn.Module, x: torch.Tensor) -> list[int]:
    widths = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: widths.append(out.shape[1]))
             for m in model.modules() if isinstance(m, shufflenetv2.InvertedResidual)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return widths


def test_shufflenet_prunes_only_channels_that_never_cross_a_shuffle():
    torch.manual_seed(0)
    model = torchvision.models.shufflenet_v2_x0_5().eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    widths = _block_widths(model, x)
    result = cp.prune(model, x, criterion="l1", target_flops=0.5)  # cpmc at 32 px takes only conv5's channels
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02 and result.report["unsupported"] == {}
    assert _block_widths(model, x) == widths  # every shuffle still interleaves two equal halves of the same width
    removed = result.report["removed"]
    assert any(".branch2.0" in name for name in removed)  # the bottlenecks lost channels
    assert not any(name.endswith((".branch2.5", ".branch1.2")) for name in removed)  # block outputs did not
    assert shufflenetv2.channel_shuffle.__name__ == "channel_shuffle"  # the tracing patch was undone


def test_channel_shuffle_cut_is_per_thread_and_undone():
    import threading

    from core_pruning.custom_layers import cut_at_channel_shuffles

    x = torch.randn(1, 4, 2, 2, requires_grad=True)
    seen = {}
    with cut_at_channel_shuffles() as collected:
        worker = threading.Thread(target=lambda: seen.update(out=shufflenetv2.channel_shuffle(x, 2)))
        worker.start()
        worker.join()
        cut = shufflenetv2.channel_shuffle(x, 2)
    assert len(collected) == 2 and collected[0] is x  # this thread's call was cut ...
    assert seen["out"].grad_fn is not None and "View" in type(seen["out"].grad_fn).__name__  # ... the other's not
    torch.testing.assert_close(cut, seen["out"])
    assert shufflenetv2.channel_shuffle.__name__ == "channel_shuffle"


class HandShuffle(nn.Module):
    """A channel shuffle written with view/transpose: Torch-Pruning would map its indices straight through."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 1)
        self.c, self.head = nn.Conv2d(8, 16, 1), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.a(x))
        b, c, h, w = x.shape
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
        return self.head(torch.relu(self.c(torch.relu(self.b(x)))).mean((2, 3)))


def test_a_hand_written_channel_shuffle_leaves_its_group_whole_and_says_why():
    torch.manual_seed(0)
    model, x = HandShuffle().eval(), torch.randn(1, 3, 8, 8)
    result = cp.prune(model, x, criterion="l1", target_flops=0.7)
    assert "channel shuffle" in result.report["unsupported"]["a"]
    assert model.a.out_channels == 8 and model.b.out_channels < 8
    with torch.no_grad():
        assert model(x).shape == (1, 4)


def test_a_tracer_failure_is_one_line_unsupported(monkeypatch):
    from core_pruning import _tp_compat as tpc
    from prunelab.errors import InputError

    def fail(*_args, **_kwargs):
        raise ZeroDivisionError("integer division or modulo by zero")

    monkeypatch.setattr(tpc.tp.DependencyGraph, "build_dependency", fail)
    with pytest.raises(InputError, match=r"^unsupported: .*ZeroDivisionError") as info:
        cp.prune(HandShuffle().eval(), torch.randn(1, 3, 8, 8), criterion="l1", target_flops=0.7)
    assert "\n" not in str(info.value)


class _AttentionSandwich(nn.Module):
    """Linear -> MultiheadAttention -> Linear, no normalisation: zeroed embedding dims stay exactly zero."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 12)
        self.attn = nn.MultiheadAttention(12, 3, batch_first=True)
        self.head = nn.Linear(12, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x)
        return self.head(self.attn(t, t, t, need_weights=False)[0])


def test_pruned_multihead_attention_equals_the_attention_with_those_dims_zeroed():
    """Head dims removed from nn.MultiheadAttention (ViT) keep the logits: q is rescaled for the new head dim."""
    from core_pruning.plan import build_graph, prune_root

    torch.manual_seed(0)
    model, x = _AttentionSandwich().eval(), torch.randn(2, 5, 6)
    drop = [0, 4, 8]  # local index 0 of each of the 3 heads (head dim 4)
    masked = _AttentionSandwich().eval()
    masked.load_state_dict(model.state_dict())
    with torch.no_grad():
        masked.embed.weight[drop] = 0
        masked.embed.bias[drop] = 0
        rows = [b * 12 + i for b in range(3) for i in drop]
        masked.attn.in_proj_weight[rows] = 0
        masked.attn.in_proj_bias[rows] = 0
        masked.attn.out_proj.weight[drop] = 0
        masked.attn.out_proj.bias[drop] = 0
        expected = masked(x)
    prune_root(build_graph(model, x), model.embed, drop)
    assert model.attn.embed_dim == 9 and model.attn.head_dim == 3
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)
