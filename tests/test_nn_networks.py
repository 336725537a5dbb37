"""Registered networks: names, shapes at T = 1, 2, 4, parameter counts, overrides, CLI."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from eventcompress import recipes as recipes_module
from eventcompress.cli import main
from eventcompress.errors import ConfigError
from eventcompress.nn import create_model, list_models, model_info, register_model
from eventcompress.nn import registry as registry_module
from eventcompress.nn.blocks import TemporalDropout
from eventcompress.nn.networks import DATASETS, VARIANTS, SpikingNet, network_config
from eventcompress.nn.neurons import (
    MTLIF,
    PLIF,
    IFNeuron,
    ReLUNeuron,
    S3NNNeuron,
    SpikingNeuron,
)

NEURON_CLASSES = {"mtlif": MTLIF, "plif": PLIF, "if": IFNeuron, "s3nn": S3NNNeuron,
                  "relu": ReLUNeuron}

TINY = {"channels": (4, 8), "hidden": 16, "input_size": 12}
N_CLASSES = {"nmnist": 10, "cifar10dvs": 10, "dvsgesture": 11}
INPUT = {"nmnist": (2, 34, 34), "cifar10dvs": (2, 48, 48), "dvsgesture": (2, 32, 32)}


def test_names_are_dataset_times_variant():
    expected = sorted(f"{d}-{v}" for d, v in itertools.product(DATASETS, VARIANTS))
    assert list_models() == expected and len(expected) == 18
    assert set(DATASETS) == {"nmnist", "cifar10dvs", "dvsgesture"}
    assert set(VARIANTS) == {"stc-scb-mtlif", "mtlif", "plif", "s3nn", "stcb", "ann"}
    assert list_models("*-s3nn") == ["cifar10dvs-s3nn", "dvsgesture-s3nn", "nmnist-s3nn"]
    assert list_models(dataset="nmnist") == [n for n in expected if n.startswith("nmnist-")]


@pytest.mark.parametrize("name", sorted(f"{d}-{v}" for d, v in itertools.product(DATASETS,
                                                                                    VARIANTS)))
def test_default_network_shapes_and_input_dependence(name):
    torch.manual_seed(0)
    # Train mode: batch norm uses the batch statistics, so a freshly initialised network fires.
    # Dropout is switched off so that only the input can make two samples' logits differ.
    model = create_model(name).train()
    for module in model.modules():
        if isinstance(module, TemporalDropout):
            module.eval()
    dataset, variant = name.split("-", 1)
    assert model.config == network_config(dataset, variant)
    assert model.config.input_shape == INPUT[dataset]
    # the neurons of the blocks and the hidden layer are the variant's kind (STCB fuses its IF)
    kind = VARIANTS[variant]["neuron"]
    neurons = [m for n, m in model.named_modules()
               if n.endswith(".neuron") and not n.startswith("readout")]
    assert len(neurons) == (1 if variant == "stcb" else len(model.config.channels) + 1)
    assert all(type(m) is NEURON_CLASSES[kind] for m in neurons)
    with torch.no_grad():
        for steps in (1, 2, 4):
            x = torch.rand(steps, 6, *INPUT[dataset])
            x[:, 5] = x[:, 0]  # a repeated sample
            logits = model(x)
            assert logits.shape == (6, N_CLASSES[dataset])
            assert torch.isfinite(logits).all()
            torch.testing.assert_close(logits[5], logits[0], rtol=1e-5, atol=1e-5)
            # distinct inputs give distinct logits (a sample whose hidden layer stays silent
            # at T = 1 may share the readout bias with another one; allow one such pair)
            spread = (logits[1:5] - logits[0]).abs().amax(dim=1)
            assert (spread > 1e-3).sum() >= 3, f"T={steps}: logits ignore the input: {spread}"


def _expected_params(dataset: str, variant: str) -> int:
    """Hand count: conv (no bias) + BN affine, hidden linear, readout, neuron and SCB extras."""
    spec = {"nmnist": ((32, 64), 2, 64 * 8 * 8, 128, 10),
            "cifar10dvs": ((128,) * 5, 2, 128 * 6 * 6, 256, 10),
            "dvsgesture": ((128,) * 5, 2, 128 * 2 * 2, 256, 11)}[dataset]
    channels, c_in, flat, hidden, classes = spec
    total = 0
    for c_out in channels:
        total += c_in * c_out * 9 + 2 * c_out
        if variant == "stc-scb-mtlif":
            total += c_out + 1  # per-channel synaptic decay + the layer's leak
        elif variant in ("mtlif", "plif"):
            total += 1  # learnable leak of the layer's neuron
        c_in = c_out
    total += flat * hidden + 2 * hidden + hidden * classes + classes  # linear, BN, readout
    if variant in ("stc-scb-mtlif", "mtlif", "plif"):
        total += 1  # hidden LinearNeuron leak
    return total


@pytest.mark.parametrize("dataset,variant", list(itertools.product(DATASETS, VARIANTS)))
def test_parameter_counts_match_hand_count(dataset, variant):
    info = model_info(f"{dataset}-{variant}")
    assert info["parameters"] == _expected_params(dataset, variant)
    assert info["input_shape"] == INPUT[dataset] and info["n_classes"] == N_CLASSES[dataset]
    assert (info["dataset"], info["variant"]) == (dataset, variant)


def test_gesture_64_input():
    model = create_model("dvsgesture-stc-scb-mtlif", input_size=64).eval()
    assert model.feature_shape == (128, 4, 4)
    with torch.no_grad():
        assert model(torch.rand(2, 2, 2, 64, 64)).shape == (2, 11)


def test_overrides_reach_the_modules():
    model = create_model("nmnist-stc-scb-mtlif", n_thresholds=3, theta=0.5, tau0=4.0,
                         surrogate="sigmoid", per_channel=True, beta0=0.25, readout="rate",
                         dropout=0.2, n_classes=5, **TINY)
    scb = model.features[0]
    assert scb.neuron.thresholds == (0.5, 1.0, 1.5)
    assert scb.neuron.w.shape == (4,)
    assert torch.allclose(scb.neuron.k, torch.full((4,), 0.25))
    assert torch.allclose(scb.beta, torch.full((4,), 0.25))
    assert model.readout.mode == "rate" and model.readout.linear.out_features == 5
    assert any(type(m).__name__ == "TemporalDropout" and m.p == 0.2 for m in model.modules())


def _hidden_and_conv_neurons(model: SpikingNet) -> list[torch.nn.Module]:
    """The neurons of the conv blocks and of the hidden layer (not the readout's)."""
    return [m for name, m in model.named_modules()
            if isinstance(m, (SpikingNeuron, S3NNNeuron)) and not name.startswith("readout")]


def test_threshold_list_and_ratio_reach_every_neuron():
    model = create_model("nmnist-stc-scb-mtlif", thresholds=[0.5, 1.0, 2.5], **TINY)
    neurons = _hidden_and_conv_neurons(model)
    assert len(neurons) == 3  # two SCBs and the hidden layer
    assert all(n.thresholds == (0.5, 1.0, 2.5) for n in neurons)
    assert model.config.neuron.thresholds == (0.5, 1.0, 2.5)
    geometric = create_model("nmnist-mtlif", thresholds="geometric", threshold_ratio=3.0,
                             n_thresholds=3, theta=0.5, **TINY)
    assert all(n.thresholds == (0.5, 1.5, 4.5) for n in _hidden_and_conv_neurons(geometric))
    s3nn = create_model("nmnist-s3nn", thresholds=(0.25, 2.0), T_equiv=2, **TINY)
    assert all(n.thresholds == (0.25, 2.0) and n.T_equiv == 2
               for n in _hidden_and_conv_neurons(s3nn))
    # a level-3 spike needs H >= 2.5: a constant input of 6 charges H = 0.5 * 6 = 3 at t = 0
    s = model.features[0].neuron(torch.full((1, 1, 4, 1, 1), 6.0))
    assert s.flatten().tolist() == [3.0] * 4


def test_surrogate_alpha_and_reset_settings_reach_every_neuron():
    for variant in ("stc-scb-mtlif", "plif", "stcb"):
        model = create_model(f"nmnist-{variant}", surrogate="sigmoid", surrogate_alpha=8.0,
                             v_reset=-0.5, detach_reset=True, reset="hard", **TINY)
        neurons = _hidden_and_conv_neurons(model)
        assert len(neurons) == (1 if variant == "stcb" else 3)  # STCB's IF neuron is fused
        for n in neurons:
            assert (n.surrogate.kind, n.surrogate.alpha, n.surrogate.width) == ("sigmoid", 8.0,
                                                                                0.5)
            assert (n.v_reset, n.detach_reset, n.reset) == (-0.5, True, "hard")
    neuron = _hidden_and_conv_neurons(model)[0]
    # the hidden IF neuron of the stcb model: without input the membrane stays at V_reset
    _, h = neuron(torch.zeros(3, 1, 2), return_state=True)
    assert h.flatten().tolist() == [-0.5] * 6
    x = torch.ones(1, 1, 1, requires_grad=True)  # H = V_reset + 1 = 0.5 = theta - 0.5
    neuron(x).sum().backward()
    s = torch.sigmoid(torch.tensor(8.0 * -0.5))
    torch.testing.assert_close(x.grad.flatten(), (8.0 * s * (1 - s)).reshape(1))
    s3nn = create_model("nmnist-s3nn", surrogate="atan", surrogate_alpha=4.0, **TINY)
    assert all(n.surrogate.alpha == 4.0 for n in _hidden_and_conv_neurons(s3nn))


@pytest.mark.parametrize(("overrides", "key"), [
    ({"thresholds": [1.0, 0.5]}, "thresholds"),
    ({"thresholds": []}, "thresholds"),
    ({"thresholds": ["a"]}, "thresholds"),
    ({"thresholds": "cubic"}, "thresholds"),
    ({"thresholds": "geometric", "threshold_ratio": 1.0, "n_thresholds": 2}, "threshold_ratio"),
    ({"surrogate_alpha": 2.0}, "surrogate_alpha"),  # the rect surrogate has no alpha
    ({"surrogate": "sigmoid", "surrogate_alpha": True}, "surrogate_alpha"),
    ({"detach_reset": "yes"}, "detach_reset"),
    ({"v_reset": "0"}, "v_reset"),
    ({"T_equiv": 0}, "T_equiv"),
])
def test_bad_neuron_overrides_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as e:
        create_model("nmnist-stc-scb-mtlif", **overrides)
    assert e.value.key == key


def test_stcb_rejects_unequal_thresholds():
    with pytest.raises(ConfigError, match="linear thresholds") as e:
        create_model("nmnist-stcb", thresholds=[1.0, 3.0])
    assert e.value.key == "thresholds"


def test_time_first_false_is_a_transpose():
    torch.manual_seed(0)
    a = create_model("nmnist-mtlif", **TINY).eval()
    b = create_model("nmnist-mtlif", time_first=False, **TINY).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(3, 2, 2, 12, 12)
    with torch.no_grad():
        assert torch.equal(a(x), b(x.transpose(0, 1)))


def test_s3nn_classifies_steps_independently():
    torch.manual_seed(0)
    model = create_model("nmnist-s3nn", **TINY).eval()
    x = torch.rand(3, 2, 2, 12, 12) * 2
    with torch.no_grad():
        per_step = torch.stack([model(x[t:t + 1]) for t in range(3)]).mean(0)
        assert torch.allclose(model(x), per_step, atol=1e-6)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_parameter_gets_a_gradient(variant):
    torch.manual_seed(0)
    model = create_model(f"nmnist-{variant}", **TINY)
    x = torch.rand(2, 4, 2, 12, 12) * 2
    model(x).square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.features[0].conv.weight.grad.abs().sum() > 0


def test_bad_overrides_and_inputs():
    with pytest.raises(ConfigError, match="n_thresholds") as e:
        create_model("nmnist-mtlif", n_threshold=2)
    assert e.value.key == "n_threshold"
    with pytest.raises(ConfigError, match="did you mean 'nmnist-mtlif'"):
        create_model("nmnist-mtlf")
    with pytest.raises(ConfigError) as e:
        create_model("nmnist-mtlif", dropout=1.5)
    assert e.value.key == "dropout"
    with pytest.raises(ConfigError, match="pool_after"):
        create_model("nmnist-mtlif", channels=(4, 8, 16))
    assert create_model("nmnist-mtlif", channels=(4, 8, 16), pool_after=(0, 2)).feature_shape \
        == (16, 8, 8)
    with pytest.raises(ConfigError, match="too small"):
        create_model("dvsgesture-ann", input_size=8)
    with pytest.raises(ConfigError) as e:
        create_model("nmnist-mtlif", theta=-1.0)
    assert e.value.key == "theta"
    model = create_model("nmnist-ann", **TINY)
    with pytest.raises(ValueError, match=r"\(C, H, W\) = \(2, 12, 12\)"):
        model(torch.rand(2, 2, 2, 34, 34))
    with pytest.raises(ValueError, match="T, N, C, H, W"):
        model(torch.rand(2, 2, 12, 12))


def test_register_model_decorator():
    @register_model(dataset="toy", variant="linear")
    def toy_linear_net(*, width: int = 3):
        """A toy network."""
        return torch.nn.Linear(2, width)

    try:
        assert "toy-linear-net" in list_models()
        assert create_model("toy-linear-net", width=5).out_features == 5
        info = model_info("toy-linear-net")
        assert info["parameters"] == 2 * 3 + 3 and info["description"] == "A toy network."
        assert info["defaults"] == {"width": 3}
        with pytest.raises(ConfigError, match="width"):
            create_model("toy-linear-net", widht=4)
        with pytest.raises(ValueError, match="already registered"):
            register_model(toy_linear_net)
    finally:
        registry_module._REGISTRY.pop("toy-linear-net", None)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cuda_forward_backward(variant):
    torch.manual_seed(0)
    model = create_model(f"nmnist-{variant}", **TINY).cuda()
    x = torch.rand(4, 2, 2, 12, 12, device="cuda")
    cpu = create_model(f"nmnist-{variant}", **TINY)
    cpu.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    out = model(x)
    out.square().sum().backward()
    assert out.device.type == "cuda" and out.shape == (2, 10)
    assert all(p.grad is not None and p.grad.is_cuda for p in model.parameters())
    if variant == "ann":  # spiking variants may flip a spike sitting on a threshold
        assert torch.allclose(out.detach().cpu(), cpu(x.cpu()), atol=1e-4, rtol=1e-4)


def _table_rows(out: str, first_header: str) -> dict[str, list[str]]:
    """Rows of the table whose header starts with ``first_header``, by first cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_header + " "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_cli_models_ls_lists_networks_and_recipes(capsys, monkeypatch):
    monkeypatch.delenv("EVENTCOMPRESS_MODELS", raising=False)
    assert main(["models", "ls"]) == 0
    out = capsys.readouterr().out
    networks = _table_rows(out, "network")
    assert sorted(networks) == list_models()
    assert networks["nmnist-stc-scb-mtlif"][3] == "545,133"
    assert networks["cifar10dvs-stc-scb-mtlif"][3] == "1,776,784"
    recipe_rows = _table_rows(out, "recipe")
    assert sorted(recipe_rows) == list_models()  # one recipe per network
    assert recipe_rows["nmnist-stc-scb-mtlif"][1:4] == ["nmnist-stc-scb-mtlif", "545,133", "-"]
    # the plif recipes read out spike counts of a batch-normalised PLIF: its leak and the norm's
    # 20 parameters, no linear bias (10), on top of the default network
    assert recipe_rows["nmnist-plif"][2:4] == ["545,048", "readout=count"]
    assert recipe_rows["nmnist-plif"][-1] == "2007.05785"

    assert main(["models", "ls", "--dataset", "dvsgesture"]) == 0
    out = capsys.readouterr().out
    assert "dvsgesture-stcb" in out and "nmnist-" not in out
    assert sorted(_table_rows(out, "recipe")) == list_models(dataset="dvsgesture")

    assert main(["models", "ls", "--no-recipes", "-d", "nmnist"]) == 0
    out = capsys.readouterr().out
    assert sorted(_table_rows(out, "network")) == list_models(dataset="nmnist")
    assert "recipe" not in out and "arXiv" not in out


def test_cli_models_ls_recipe_folders(capsys, monkeypatch, tmp_path):
    text = (Path(__file__).resolve().parents[1] / "models" / "nmnist-mtlif.toml").read_text()
    (tmp_path / "mine.toml").write_text(text.replace(
        "[optimizer]", "[model.overrides]\nthresholds = [0.5, 1.5]\nhidden = 16\n\n[optimizer]"))
    assert main(["models", "ls", "--recipes", "--folder", str(tmp_path), "-d", "nmnist"]) == 0
    rows = _table_rows(capsys.readouterr().out, "recipe")
    assert list(rows) == ["mine"]
    hidden16 = model_info("nmnist-mtlif")["parameters"] - (4096 + 2 + 10) * 128 + (
        (4096 + 2 + 10) * 16)
    assert rows["mine"][2:5] == [f"{hidden16:,}", "hidden=16,", "thresholds=[0.5,1.5]"]
    # an installed package has no models/ folder: the networks are still listed
    monkeypatch.delenv("EVENTCOMPRESS_MODELS", raising=False)
    monkeypatch.setattr(recipes_module, "default_folder", lambda: tmp_path / "absent")
    assert main(["models", "ls", "-d", "nmnist"]) == 0
    out = capsys.readouterr().out
    assert "nmnist-plif" in out and "no recipe folder" in out
    # a folder asked for must exist
    assert main(["models", "ls", "--folder", str(tmp_path / "absent")]) == 2
    assert "recipe folder not found" in capsys.readouterr().err


def test_cli_models_info(capsys):
    assert main(["models", "info", "nmnist-plif"]) == 0
    out = capsys.readouterr().out
    assert "n_thresholds = 1" in out and "545,037 parameters" in out
    assert "v_reset = 0.0" in out and "surrogate_alpha = None" in out
    assert main(["models", "ls", "--dataset", "mnist"]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["models", "info", "nmnist-plf"]) == 2
    assert "did you mean 'nmnist-plif'" in capsys.readouterr().err
