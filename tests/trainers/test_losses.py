"""SPADE training pieces: multi-scale discriminator, GAN/feature/KL losses, VGG19 perceptual loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainers.configs import VGG19_FILE, find_vgg19_weights
from trainers.losses import (
    VGG19Features,
    VGGLoss,
    feature_matching_loss,
    hinge_d_loss,
    hinge_g_loss,
    kld_loss,
    load_vgg19,
)
from trainers.nets.discriminator import MultiscaleDiscriminator, NLayerDiscriminator

VGG_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
             (14, 256, 256), (16, 256, 256), (19, 256, 512), (21, 512, 512), (23, 512, 512), (25, 512, 512),
             (28, 512, 512), (30, 512, 512), (32, 512, 512), (34, 512, 512)]


def _preds(*values: float, stages: int = 3, num_d: int = 2) -> list[list[torch.Tensor]]:
    """num_d scales, each with `stages` features; the last (logits) filled with values[scale]."""
    return [[torch.randn(2, 4, 5, 5) for _ in range(stages - 1)] + [torch.full((2, 1, 5, 5), v)]
            for v in (values * num_d)[:num_d]]


# --- discriminator ----------------------------------------------------------------------------------


def test_multiscale_discriminator_shapes() -> None:
    torch.manual_seed(0)
    netd = MultiscaleDiscriminator(input_nc=12, ndf=16, n_layers=4, num_D=2)
    assert [name for name, _ in netd.named_children()] == ["discriminator_0", "discriminator_1"]
    assert [name for name, _ in netd.discriminator_0.named_children()] == [f"model{i}" for i in range(5)]
    out = netd(torch.randn(2, 12, 64, 64))
    assert len(out) == 2
    # padw 2, kw 4: stride-2 stages give floor(s/2)+1, stride-1 stages grow by 1
    assert [tuple(f.shape) for f in out[0]] == [(2, 16, 33, 33), (2, 32, 17, 17), (2, 64, 9, 9),
                                                (2, 128, 10, 10), (2, 1, 11, 11)]
    assert [tuple(f.shape) for f in out[1]] == [(2, 16, 17, 17), (2, 32, 9, 9), (2, 64, 5, 5),
                                                (2, 128, 6, 6), (2, 1, 7, 7)]


def test_discriminator_channels_cap_at_512() -> None:
    netd = NLayerDiscriminator(input_nc=4, ndf=128, n_layers=4)
    assert [f.shape[1] for f in netd(torch.randn(1, 4, 32, 32))] == [128, 256, 512, 512, 1]


def test_gradients_reach_discriminator_and_input() -> None:
    torch.manual_seed(0)
    netd = torch.nn.SyncBatchNorm.convert_sync_batchnorm(MultiscaleDiscriminator(input_nc=12, ndf=8))
    netd.train()
    real = torch.randn(2, 12, 64, 64)
    fake = torch.randn(2, 12, 64, 64, requires_grad=True)
    # real and fake in separate forwards: each power iteration updates u/v, which must not break backward
    real_preds, fake_preds = netd(real), netd(fake)
    (hinge_d_loss(real_preds, fake_preds) + feature_matching_loss(real_preds, fake_preds)).backward()
    for name, param in netd.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_spectral_norm_power_iteration_runs_in_train_mode_only() -> None:
    netd = NLayerDiscriminator(input_nc=4, ndf=8, n_layers=3)
    conv = netd.model1[0]
    u0 = conv.weight_u.clone()
    netd.eval()
    netd(torch.randn(1, 4, 32, 32))
    assert torch.equal(conv.weight_u, u0)
    netd.train()
    netd(torch.randn(1, 4, 32, 32))
    assert not torch.equal(conv.weight_u, u0)


# --- GAN, feature matching and KL losses ---------------------------------------------------------------


def test_hinge_losses_on_hand_made_values() -> None:
    assert hinge_d_loss(_preds(2.0), _preds(-2.0)).item() == pytest.approx(0.0)
    assert hinge_d_loss(_preds(0.0), _preds(0.0)).item() == pytest.approx(2.0)
    # scale 0: relu(1-0.5) + relu(1+0.5) = 2; scale 1: relu(1-3) + relu(1-3) = 0 -> mean 1
    assert hinge_d_loss(_preds(0.5, 3.0), _preds(0.5, -3.0)).item() == pytest.approx(1.0)
    assert hinge_g_loss(_preds(1.0, 3.0)).item() == pytest.approx(-2.0)


def test_feature_matching_loss() -> None:
    torch.manual_seed(0)
    real = _preds(1.0)
    same = [[f.clone() for f in scale] for scale in real]
    assert feature_matching_loss(real, same).item() == 0.0
    other = _preds(1.0)
    # only the intermediate features count: changing the logits alone leaves it at zero
    assert feature_matching_loss(real, [s[:-1] + [s[-1] + 5] for s in same]).item() == 0.0
    expected = sum(torch.nn.functional.l1_loss(o, r) for rs, os in zip(real, other) for r, o in zip(rs[:-1], os[:-1]))
    assert feature_matching_loss(real, other).item() == pytest.approx(expected.item() / 2)
    assert feature_matching_loss(real, other).item() > 0


def test_feature_matching_does_not_train_on_real_features() -> None:
    real_feat = torch.randn(1, 2, 3, 3, requires_grad=True)
    fake_feat = torch.randn(1, 2, 3, 3, requires_grad=True)
    logits = torch.zeros(1, 1, 3, 3)
    feature_matching_loss([[real_feat, logits]], [[fake_feat, logits]]).backward()
    assert real_feat.grad is None and fake_feat.grad is not None


def test_kld_loss() -> None:
    assert kld_loss(torch.zeros(3, 8), torch.zeros(3, 8)).item() == 0.0
    # one element with mu=1: -0.5 * (1 + 0 - 1 - 1) = 0.5
    mu = torch.zeros(3, 8)
    mu[0, 0] = 1.0
    assert kld_loss(mu, torch.zeros(3, 8)).item() == pytest.approx(0.5)
    assert kld_loss(torch.zeros(1, 4), torch.full((1, 4), 1.0)).item() > 0


# --- VGG19 ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg() -> VGG19Features:
    torch.manual_seed(0)
    return VGG19Features()


def test_vgg19_key_layout_matches_torchvision(vgg: VGG19Features) -> None:
    sd = vgg.state_dict()
    assert list(sd) == [f"features.{i}.{p}" for i, _, _ in VGG_CONVS for p in ("weight", "bias")]
    for i, cin, cout in VGG_CONVS:
        assert sd[f"features.{i}.weight"].shape == (cout, cin, 3, 3)
        assert sd[f"features.{i}.bias"].shape == (cout,)
    assert all(not p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training


def test_vgg19_features_shapes(vgg: VGG19Features) -> None:
    feats = vgg(torch.randn(1, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 32), (1, 128, 16, 16), (1, 256, 8, 8),
                                               (1, 512, 4, 4), (1, 512, 2, 2)]
    assert all((f >= 0).all() for f in feats)  # all taken after a ReLU


def test_vgg19_file_round_trip(vgg: VGG19Features, tmp_path: Path) -> None:
    sd = dict(vgg.state_dict())
    # torchvision's file also holds the classifier; tiny stand-ins, the loader must drop them anyway
    for i in (0, 3, 6):
        sd[f"classifier.{i}.weight"], sd[f"classifier.{i}.bias"] = torch.randn(4, 4), torch.randn(4)
    path = tmp_path / VGG19_FILE
    torch.save(sd, path)
    found = find_vgg19_weights(path)
    assert found == path
    loaded = load_vgg19(found)
    x = torch.randn(1, 3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(vgg(x), loaded(x), strict=True))
    assert all(not p.requires_grad for p in loaded.parameters()) and not loaded.training


def test_find_vgg19_weights_explicit_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="VGG19"):
        find_vgg19_weights(tmp_path / "nope.pth")


def test_find_vgg19_weights_in_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the ~/.cache fallback must not see a real download
    assert find_vgg19_weights() is None
    target = tmp_path / "torch" / "hub" / "checkpoints" / VGG19_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    assert find_vgg19_weights() == target


def test_find_vgg19_weights_falls_back_to_home_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    target = tmp_path / ".cache" / "torch" / "hub" / "checkpoints" / VGG19_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    assert find_vgg19_weights() == target


@pytest.mark.parametrize("content", ["other_state_dict", "wrong_shape", "tensor", "garbage"])
def test_load_vgg19_rejects_other_files(content: str, vgg: VGG19Features, tmp_path: Path) -> None:
    path = tmp_path / "x.pth"
    if content == "other_state_dict":
        torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    elif content == "wrong_shape":
        sd = dict(vgg.state_dict())
        sd["features.0.weight"] = torch.zeros(64, 1, 3, 3)
        torch.save(sd, path)
    elif content == "tensor":
        torch.save(torch.zeros(3), path)
    else:
        path.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="x.pth") as info:
        load_vgg19(path)
    assert "\n" not in str(info.value)


def test_vgg_loss(vgg: VGG19Features) -> None:
    loss_fn = VGGLoss(vgg)
    y = torch.rand(1, 3, 32, 32) * 2 - 1
    assert loss_fn(y, y.clone()).item() == 0.0
    x = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_()
    loss = loss_fn(x, y)
    xs, ys = vgg(x.detach()), vgg(y)
    weights = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0]
    expected = sum(w * torch.nn.functional.l1_loss(a, b) for w, a, b in zip(weights, xs, ys))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg.parameters())
