"""Registered networks: names, shapes at T = 1, 2, 4, parameter counts, overrides, CLI."""

from __future__ import annotations

import itertools

import pytest
import torch

from eventcompress.cli import main
from eventcompress.errors import ConfigError
from eventcompress.nn import create_model, list_models, model_info, register_model
from eventcompress.nn import registry as registry_module
from eventcompress.nn.networks import DATASETS, VARIANTS, SpikingNet

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
def test_default_network_shapes(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    dataset = name.split("-")[0]
    assert isinstance(model, SpikingNet)
    assert model.config.input_shape == INPUT[dataset]
    with torch.no_grad():
        for steps in (1, 2, 4):
            logits = model(torch.rand(steps, 2, *INPUT[dataset]))
            assert logits.shape == (2, N_CLASSES[dataset])
            assert torch.isfinite(logits).all()


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


def test_cli_models_ls(capsys):
    assert main(["models", "ls"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out
    assert "545,133" in out and "1,776,784" in out  # nmnist / cifar10dvs stc-scb-mtlif
    assert main(["models", "ls", "--dataset", "dvsgesture"]) == 0
    out = capsys.readouterr().out
    assert "dvsgesture-stcb" in out and "nmnist-" not in out


def test_cli_models_ls_recipes_and_info(capsys):
    assert main(["models", "ls", "--recipes", "-d", "nmnist"]) == 0
    out = capsys.readouterr().out
    assert "recipe" in out and "2203.10006" in out and "readout=rate" in out
    assert main(["models", "info", "nmnist-plif"]) == 0
    out = capsys.readouterr().out
    assert "n_thresholds = 1" in out and "545,037 parameters" in out
    assert main(["models", "ls", "--dataset", "mnist"]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["models", "info", "nmnist-plf"]) == 2
    assert "did you mean 'nmnist-plif'" in capsys.readouterr().err
