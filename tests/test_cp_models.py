"""Every model behind the one RiskModel interface: shapes, persistence, explanations, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cp_predict.augment import AugmentConfig
from cp_predict.metrics import auc_score
from cp_predict.models import MODEL_NAMES, TrainConfig, create_model, model_from_state
from cp_predict.models.attention import JointAttentionNet, JointChannelAttention, PerJointAttention
from cp_predict.models.stgcn import spatial_adjacency
from cp_predict.preprocess import prepare
from cp_predict.simulate import GeneratorConfig, generate

FAST = TrainConfig(epochs=2, batch_size=16, min_steps=0)


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    train = generate(GeneratorConfig(n=160, seed=21))
    test = generate(GeneratorConfig(n=80, seed=22))
    return prepare(train), train.labels, prepare(test), test.labels


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_interface_and_state_round_trip(name, data):
    x, y, xt, _ = data
    model = create_model(name, FAST).fit(x[:32], y[:32], 25.0, seed=0)
    logits = model.decision_function(xt[:6], 25.0)
    assert logits.shape == (6,) and np.isfinite(logits).all()
    state = model.state()
    torch.save(state, buf := __import__("io").BytesIO())
    buf.seek(0)
    again = model_from_state(torch.load(buf, weights_only=True))
    np.testing.assert_allclose(again.decision_function(xt[:6], 25.0), logits, rtol=1e-5, atol=1e-6)
    imp = model.joint_importance(xt[:6], 25.0)
    if name == "speed":
        assert imp is None
    else:
        assert imp.shape == (6, 18) and (imp >= 0).all()


@pytest.mark.parametrize("module", [JointChannelAttention, PerJointAttention])
def test_attention_weights_are_per_joint_sigmoids(module):
    att = module(18)
    scaled, w = att(torch.rand(3, 8, 50, 18))
    assert w.shape == (3, 18) and ((w > 0) & (w < 1)).all()
    for kind in ("per_joint", "pooled"):
        net = JointAttentionNet(attention=kind).eval()
        logit, weights, feats = net(torch.randn(2, 2, 300, 18))
        assert logit.shape == (2,) and weights.shape == (2, 18) and feats.shape[-1] == 18
    with pytest.raises(ValueError, match="unknown attention"):
        JointAttentionNet(attention="global")


@pytest.mark.parametrize("module", [JointChannelAttention, PerJointAttention])
def test_attention_scales_each_joint_by_its_weight(module):
    att = module(18)
    h = torch.rand(2, 8, 30, 18)
    scaled, w = att(h)
    torch.testing.assert_close(scaled, h * w[:, None, None, :])


def test_per_joint_attention_weight_follows_that_joints_own_features_only():
    """Issue 18: changing one joint's movement features changes that joint's weight and no other's (the pooled
    SE module mixes all joints in its MLP, so there every weight moves)."""
    torch.manual_seed(0)
    h = torch.rand(2, 8, 30, 18)
    changed = h.clone()
    changed[:, :, :, 4] = changed[:, :, :, 4] * 3.0 + torch.rand(2, 8, 30)
    per_joint = PerJointAttention(18)
    nn.init.normal_(per_joint.mlp[-1].weight)
    w, w2 = per_joint(h)[1], per_joint(changed)[1]
    others = [j for j in range(18) if j != 4]
    assert (w2[:, 4] - w[:, 4]).abs().min() > 1e-3
    torch.testing.assert_close(w2[:, others], w[:, others])
    pooled = JointChannelAttention(18)
    assert (pooled(changed)[1][:, others] - pooled(h)[1][:, others]).abs().max() > 1e-3


def test_new_models_record_per_joint_attention_and_old_states_rebuild_the_pooled_one(data):
    x, y, xt, _ = data
    model = create_model("attention", FAST).fit(x[:16], y[:16], 25.0, seed=0)
    assert model.net_config["attention"] == "per_joint" and isinstance(model.net.attention, PerJointAttention)
    legacy = create_model("attention", FAST, {"attention": "pooled"}).fit(x[:16], y[:16], 25.0, seed=0)
    state = legacy.state()
    del state["net_config"]["attention"]  # as saved before the kind was recorded (the shipped weights' era)
    again = model_from_state(state)
    assert isinstance(again.net.attention, JointChannelAttention) and again.net_config["attention"] == "pooled"
    np.testing.assert_allclose(again.decision_function(xt[:4], 25.0), legacy.decision_function(xt[:4], 25.0),
                               rtol=1e-5, atol=1e-6)



def _backbone_input(net: JointAttentionNet, x: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """The attended features the backbone receives, as ``(N, F, T', V)``, and the features forward returns."""
    seen = []
    handle = net.backbone.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    _, _, feats = net(x, **kwargs)
    handle.remove()
    n, f, t, v = feats.shape
    return seen[0].reshape(n, f, v, t).permute(0, 1, 3, 2), feats.detach()


def test_joint_dropout_drops_whole_joints_in_training_only():
    torch.manual_seed(0)
    net = JointAttentionNet()
    x = torch.randn(64, 2, 100, 18)
    net.train()
    seen, feats = _backbone_input(net, x, joint_dropout=0.3)
    dropped = (seen == 0).all(dim=(1, 2))  # (N, V): every feature of a joint zeroed, or none
    kept = ~dropped
    assert 0.2 < dropped.float().mean() < 0.4
    # the kept joints are scaled by 1 / (1 - p); the returned features are those before the dropout
    torch.testing.assert_close(seen.permute(0, 3, 1, 2)[kept], feats.permute(0, 3, 1, 2)[kept] / 0.7)
    assert (dropped.sum(dim=0) > 0).all()  # each joint is dropped in some sequences ...
    assert (dropped.sum(dim=1) < 18).all()  # ... and no sequence loses all of them here
    net.eval()
    seen, feats = _backbone_input(net, x, joint_dropout=0.3)
    torch.testing.assert_close(seen, feats)  # inference: no dropout whatever the argument


def test_attention_training_uses_the_configured_joint_dropout(data, monkeypatch):
    rates = []
    original = JointAttentionNet.forward

    def spy(self, x, joint_dropout=0.0):
        rates.append(joint_dropout)
        return original(self, x, joint_dropout)

    monkeypatch.setattr(JointAttentionNet, "forward", spy)
    x, y = data[0][:32], data[1][:32]
    cfg = TrainConfig(epochs=1, batch_size=8, min_steps=0, joint_dropout=0.25)
    model = create_model("attention", cfg).fit(x, y, 25.0)
    assert rates and set(rates) == {0.25}
    rates.clear()
    model.decision_function(x, 25.0)
    assert set(rates) == {0.0}
    assert TrainConfig().joint_dropout == 0.3
    assert TrainConfig.from_dict(cfg.to_dict()).joint_dropout == 0.25

def test_stgcn_graph_partitions():
    parts = spatial_adjacency()
    assert parts.shape == (3, 18, 18)
    np.testing.assert_allclose(parts.sum(axis=0).sum(axis=0), 1.0)  # column-normalised neighbourhoods
    assert parts[0].diagonal().all()  # every joint is its own root


def test_grad_cam_map_and_windows_for_long_recordings(data):
    x, y, _, _ = data
    cfg = TrainConfig(epochs=1, window=100, stride=50, min_steps=0)
    model = create_model("attention", cfg).fit(x[:16], y[:16], 25.0)
    long = np.concatenate([x[:2], x[2:4]], axis=2)  # 600 frames -> 11 windows of 100
    cam = model.joint_time_map(long, 25.0)
    assert cam.shape == (2, 600, 18) and cam.min() >= 0 and np.allclose(cam.max(axis=(1, 2)), 1.0)
    logits = model.decision_function(long, 25.0)
    manual = np.mean([model.decision_function(long[:, :, a:a + 100], 25.0) for a in range(0, 501, 50)], axis=0)
    np.testing.assert_allclose(logits, manual, rtol=1e-5)


def test_speed_threshold_is_a_threshold_on_speed(data):
    from cp_predict.features import mean_limb_speed

    x, y, xt, _ = data
    model = create_model("speed").fit(x, y, 25.0)
    speed = mean_limb_speed(xt, 25.0)
    above = speed > model.threshold
    assert np.array_equal(model.decision_function(xt, 25.0) > 0, above if model.coef > 0 else ~above)


def test_logreg_learns_the_generator(data):
    x, y, xt, yt = data
    model = create_model("logreg").fit(x, y, 25.0)
    assert auc_score(yt, model.decision_function(xt, 25.0)) > 0.9


def test_small_sets_get_a_minimum_number_of_updates(data):
    x, y, _, _ = data
    model = create_model("attention", TrainConfig(epochs=1, batch_size=8, min_steps=6)).fit(x[:8], y[:8], 25.0)
    assert len(model.history) == 6  # 1 batch per epoch, so 6 epochs


def test_attention_model_learns_quickly(data):
    """150 updates on 160 infants. (12 epochs = 60 updates passed only by the luck of the unseeded initial
    weights: with them seeded, test AUC 0.54-0.85 over seeds 0-2 for either attention module; at 30 epochs
    0.995-1.000 per-joint, 0.987-0.996 pooled, 2026-12-04.)"""
    x, y, xt, yt = data
    cfg = TrainConfig(epochs=30, batch_size=32, min_steps=0, augment=AugmentConfig(flip=True))
    model = create_model("attention", cfg).fit(x, y, 25.0, seed=0)
    assert model.history[-1] < model.history[0]
    assert auc_score(yt, model.decision_function(xt, 25.0)) > 0.95


def test_speed_channel_feeds_the_heads_log_limb_speed(data):
    from cp_predict.features import mean_limb_speed
    from cp_predict.models.attention import log_limb_speed
    from cp_predict.skeleton import END_EFFECTORS

    x = data[0][:4]
    expected = np.log(mean_limb_speed(x, 25.0) / 25.0 + 1e-4)
    np.testing.assert_allclose(log_limb_speed(torch.from_numpy(x))[:, 0].numpy(), expected, rtol=1e-4)
    net = JointAttentionNet(speed_channel=True).eval()
    assert net.head.in_features == JointAttentionNet().head.in_features + 1
    faster = torch.from_numpy(x).clone()
    faster[:, :, 1::2, list(END_EFFECTORS)] += 0.05  # wrists and ankles jitter: faster limbs, same posture
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.weight[0, -1] = 1.0  # the logit is the normalised speed alone
        slow_logit, fast_logit = net(torch.from_numpy(x))[0], net(faster)[0]
    assert (fast_logit > slow_logit).all()


def test_fit_seeds_the_initial_weights(data):
    """The same seed gives the same network whatever the process's random state before fit()."""
    x, y, _, _ = data
    cfg = TrainConfig(epochs=1, batch_size=8, min_steps=0)
    first = create_model("attention", cfg).fit(x[:8], y[:8], 25.0, seed=3).net.state_dict()
    torch.rand(1000)  # move the global generator
    second = create_model("attention", cfg).fit(x[:8], y[:8], 25.0, seed=3).net.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
