"""Reading foreign containers and writing our own safetensors files."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from engine.checkpoints import (
    METADATA_KEY,
    CheckpointError,
    read_checkpoint,
    read_sidecar_options,
    write_checkpoint,
)


def test_containers_and_prefixes_are_unwrapped(tmp_path):
    weights = {"fc.weight": torch.randn(2, 3), "fc.bias": torch.randn(2)}
    for name, obj in {
        "bare.pth": weights,
        "ddp.pth": {f"module.{k}": v for k, v in weights.items()},
        "compiled.pth": {f"_orig_mod.module.{k}": v for k, v in weights.items()},
        "snapshot.pth.tar": {"step": 3, "state_dict": {f"module.{k}": v for k, v in weights.items()}, "optimizer": {}},
        "munit.pt": {"gen": weights},
    }.items():
        torch.save(obj, tmp_path / name)
        sd = read_checkpoint(tmp_path / name).state_dict
        assert list(sd) == ["fc.weight", "fc.bias"], name
        assert torch.equal(sd["fc.weight"], weights["fc.weight"])


def test_legacy_instance_norm_stats_are_dropped_but_batch_norm_stats_kept(tmp_path):
    sd = {
        "model.1.weight": torch.zeros(1), "model.2.running_mean": torch.zeros(1),
        "model.2.running_var": torch.ones(1), "model.2.num_batches_tracked": torch.tensor(0),
        "model.5.weight": torch.ones(1), "model.5.running_mean": torch.zeros(1),  # affine BN: kept
        "head_0.norm_0.param_free_norm.running_mean": torch.zeros(1),  # SPADE's BN: kept
    }
    torch.save(sd, tmp_path / "old.pth")
    keys = set(read_checkpoint(tmp_path / "old.pth").state_dict)
    assert keys == {"model.1.weight", "model.5.weight", "model.5.running_mean",
                    "head_0.norm_0.param_free_norm.running_mean"}


def test_sae_discriminators_are_dropped(tmp_path):
    sd = {"E.a": torch.zeros(1), "G.b": torch.zeros(1), "D.c": torch.zeros(1), "Dpatch.d": torch.zeros(1)}
    torch.save(sd, tmp_path / "sae.pth")
    assert set(read_checkpoint(tmp_path / "sae.pth").state_dict) == {"E.a", "G.b"}


def test_spade_opt_txt_sidecar(tmp_path):
    (tmp_path / "opt.txt").write_text(
        "----------------- Options ---------------\n"
        "                 label_nc: 35                            \t[default: 182]\n"
        "   contain_dontcare_label: False                         \n"
        "             aspect_ratio: 2.0                           \t[default: 1.0]\n"
        "    num_upsampling_layers: more                          \t[default: normal]\n"
        "----------------- End -------------------\n")
    options = read_sidecar_options(tmp_path / "latest_net_G.pth")
    assert options == {"label_nc": 35, "contain_dontcare_label": False, "aspect_ratio": 2.0,
                       "num_upsampling_layers": "more"}


def test_companion_encoder_is_read_beside_the_generator(tmp_path):
    torch.save({"fc.weight": torch.zeros(1)}, tmp_path / "latest_net_G.pth")
    torch.save({"layer1.0.weight_orig": torch.ones(1)}, tmp_path / "latest_net_E.pth")
    ckpt = read_checkpoint(tmp_path / "latest_net_G.pth")
    assert list(ckpt.parts["netE"]) == ["layer1.0.weight_orig"]


def test_safetensors_round_trip_with_metadata_and_parts(tmp_path):
    sd = {"fc.weight": torch.randn(4, 2)}
    parts = {"netE": {"fc_mu.weight": torch.randn(3, 3)}}
    meta = {"method": "spade", "hparams": {"ngf": 2}, "classes": [[0, "sky"]], "provenance": {"step": 10}}
    write_checkpoint(tmp_path / "ours.safetensors", sd, meta, parts)
    ckpt = read_checkpoint(tmp_path / "ours.safetensors")
    assert torch.equal(ckpt.state_dict["fc.weight"], sd["fc.weight"])
    assert torch.equal(ckpt.parts["netE"]["fc_mu.weight"], parts["netE"]["fc_mu.weight"])
    assert ckpt.metadata == meta and ckpt.options == {"ngf": 2}
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_companions_that_are_pipes_or_folders_are_never_opened(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    torch.save({"fc.weight": torch.zeros(1)}, tmp_path / "latest_net_G.pth")
    os.mkfifo(tmp_path / "opt.txt")  # opening a FIFO blocks until someone writes: it must be skipped
    (tmp_path / "latest_net_E.pth").mkdir()
    ckpt = read_checkpoint(tmp_path / "latest_net_G.pth")
    assert ckpt.options == {} and ckpt.parts == {}
    with pytest.raises(CheckpointError, match="named pipe"):
        read_checkpoint(tmp_path / "opt.txt")
    with pytest.raises(CheckpointError, match="folder"):
        read_checkpoint(tmp_path / "latest_net_E.pth")


def test_our_metadata_must_be_an_object_with_fields_of_the_right_types(tmp_path):
    for raw, words in [("[1]", "JSON list"), ("nope", "not valid JSON"), ('{"hparams": 3}', "'hparams'"),
                       ('{"license": ["x"]}', "'license'"), ('{"palette": "../x"}', "palette name"),
                       ('{"classes": [[true, "sky"]]}', "'classes'")]:
        save_file({"fc.weight": torch.zeros(2)}, tmp_path / "m.safetensors", metadata={METADATA_KEY: raw})
        with pytest.raises(CheckpointError, match=words):
            read_checkpoint(tmp_path / "m.safetensors")
