"""NeuronConfig and NetworkConfig: one record per setting, checked when made, the source of
every neuron (the readout's included) and of the registry's flat overrides."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from eventcompress.errors import ConfigError
from eventcompress.nn import create_model, model_info
from eventcompress.nn.networks import DATASETS, VARIANTS, NetworkConfig, network_config
from eventcompress.nn.neurons import (
    NEURON_KINDS,
    NEURON_SETTINGS,
    PLIF,
    NeuronConfig,
    make_neuron,
    neuron_keywords,
)

TINY = {"channels": (4, 8), "hidden": 16, "input_size": 12}


def test_neuron_config_defaults_are_the_neurons_defaults():
    """The record and the classes' signatures agree, so a setting left out means the same in
    both (and make_neuron(kind) equals NeuronConfig(kind=kind).build())."""
    defaults = {f.name: f.default for f in dataclasses.fields(NeuronConfig)}
    for kind in NEURON_KINDS:
        cls = type(make_neuron(kind))
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if name in NEURON_SETTINGS and name != "per_channel":
                assert param.default == defaults[name], (kind, name)
        # every keyword of a neuron is a setting of the record, except MT-LIF's learnable,
        # which the kinds fix (lif: fixed leak, plif and mtlif: learnable)
        assert neuron_keywords(kind) - NEURON_SETTINGS <= {"learnable"}


@pytest.mark.parametrize("kind", NEURON_KINDS)
def test_build_equals_make_neuron_with_the_kinds_settings(kind):
    config = NeuronConfig(kind=kind, n_thresholds=3, theta=0.5, tau0=4.0, surrogate="sigmoid",
                          surrogate_alpha=8.0, per_channel=True)
    torch.manual_seed(0)
    built = config.build(channels=5)
    torch.manual_seed(0)
    made = make_neuron(kind, **config.kwargs,
                       **({"per_channel": 5} if "per_channel" in neuron_keywords(kind) else {}))
    assert type(built) is type(made)
    assert built.state_dict().keys() == made.state_dict().keys()
    x = torch.rand(4, 2, 5, generator=torch.Generator().manual_seed(1)) * 2
    assert torch.equal(built(x), made(x))
    assert set(config.kwargs) == neuron_keywords(kind) & NEURON_SETTINGS - {"per_channel"}


def test_neuron_config_stores_canonical_types():
    a = NeuronConfig(theta=1, thresholds=[1, 2.5], v_reset=0)
    b = NeuronConfig(theta=1.0, thresholds=(1.0, 2.5), v_reset=0.0)
    assert a == b and a.sha256() == b.sha256()
    assert a.thresholds == (1.0, 2.5) and isinstance(a.theta, float)


@pytest.mark.parametrize(("settings", "key", "words"), [
    ({"kind": "mtlf"}, "neuron", "did you mean 'mtlif'"),
    ({"surrogate": "sigmod"}, "surrogate", "did you mean 'sigmoid'"),
    ({"reset": "sofft"}, "reset", "did you mean 'soft'"),
    ({"thresholds": "geometirc"}, "thresholds", "did you mean 'geometric'"),
    ({"thresholds": []}, "thresholds", "non-empty array of numbers"),
    ({"thresholds": [1.0, "2"]}, "thresholds", "array of numbers"),
    ({"thresholds": [2.0, 1.0]}, "thresholds", "strictly increasing"),
    ({"n_thresholds": "2"}, "n_thresholds", "expected an integer, got str '2'"),
    ({"n_thresholds": True}, "n_thresholds", "expected an integer"),
    ({"theta": -1.0}, "theta", "> 0"),
    ({"tau0": 1.0}, "tau0", "> 1"),
    ({"kind": "s3nn", "tau0": 0.5}, "tau0", ">= 1"),
    ({"T_equiv": 0}, "T_equiv", ">= 1"),
    ({"detach_reset": 1}, "detach_reset", "expected true/false"),
    ({"per_channel": 4}, "per_channel", "expected true/false"),
    ({"surrogate_alpha": 2.0}, "surrogate_alpha", "rect surrogate has no alpha"),
    ({"surrogate": "atan", "surrogate_alpha": "2"}, "surrogate_alpha", "expected a number"),
])
def test_neuron_config_names_the_bad_key(settings, key, words):
    with pytest.raises(ConfigError) as e:
        NeuronConfig(**settings)
    assert e.value.key == key
    assert words in str(e.value)


def test_tau0_is_checked_only_for_the_kinds_that_use_it():
    assert NeuronConfig(kind="if", tau0=0.5).tau0 == 0.5  # IF has no leak
    assert NeuronConfig(kind="s3nn", tau0=1.0).build().k == 1.0


def test_network_config_is_validated_when_made():
    config = network_config("nmnist", "mtlif")
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(config, dropout=1.5)
    assert e.value.key == "dropout" and "[0, 1)" in str(e.value)
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(config, pool="maks")
    assert e.value.key == "pool" and "did you mean 'max'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(config, neuron={"kind": "mtlif"})
    assert e.value.key == "neuron"
    square = dataclasses.replace(config, input_size=12)
    assert square.input_size == (12, 12) and square == dataclasses.replace(config,
                                                                            input_size=[12, 12])


def test_network_config_canonical_json_is_pinned():
    """Version 2: the neuron settings are the nested NeuronConfig (version 1 had flat fields)."""
    config = network_config("nmnist", "stc-scb-mtlif")
    assert config.canonical_json() == (
        '{"beta0":0.5,"block":"scb","channels":[32,64],"dataset":"nmnist","dropout":0.0,'
        '"hidden":128,"in_channels":2,"input_size":[34,34],"kernel_size":3,"n_classes":10,'
        '"neuron":{"T_equiv":4,"detach_reset":false,"kind":"mtlif","n_thresholds":4,'
        '"per_channel":false,"reset":"soft","surrogate":"rect","surrogate_alpha":null,'
        '"surrogate_width":1.0,"tau0":2.0,"theta":1.0,"threshold_ratio":2.0,'
        '"thresholds":"linear","type":"NeuronConfig","v_reset":0.0,"version":1},"pool":"max",'
        '"pool_after":[0,1],"readout":"membrane","time_first":true,"type":"NetworkConfig",'
        '"variant":"stc-scb-mtlif","version":2}')
    assert NetworkConfig.schema_version == 2


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_flat_overrides_are_the_fields_of_both_records(variant):
    network_fields = {f.name for f in dataclasses.fields(NetworkConfig)}
    expected = (network_fields - {"dataset", "variant", "block", "neuron"}) | NEURON_SETTINGS
    for dataset in DATASETS:
        defaults = model_info(f"{dataset}-{variant}")["defaults"]
        assert set(defaults) == expected
        # every default passed explicitly gives the same record
        assert network_config(dataset, variant, **defaults) == network_config(dataset, variant)
        theta = network_config(dataset, variant, theta=0.5)
        assert theta.neuron.theta == 0.5 and theta.neuron.kind == VARIANTS[variant]["neuron"]


def test_the_spiking_readout_takes_the_networks_neuron_settings():
    model = create_model("nmnist-mtlif", readout="count", theta=0.5, tau0=4.0,
                         surrogate="sigmoid", surrogate_alpha=8.0, reset="hard",
                         per_channel=True, **TINY)
    neuron = model.readout.neuron
    assert type(neuron) is PLIF  # K = 1 whatever the hidden neurons' K
    assert neuron.thresholds == (0.5,) and (neuron.surrogate.kind, neuron.surrogate.alpha) == (
        "sigmoid", 8.0)
    assert neuron.reset == "hard" and neuron.w.shape == (10,)
    assert torch.allclose(neuron.k, torch.full((10,), 0.25))
    assert model.config.readout_neuron == dataclasses.replace(model.config.neuron, kind="plif")
    # input 2 per step, k = 1/4: H[0] = 0.5 reaches theta 0.5 at every step (hard reset to 0),
    # while with the default theta 1 (soft reset) H = 0.5, 0.875, 1.156 (spike), 0.617
    x = torch.full((4, 1, 10), 2.0)
    default = create_model("nmnist-mtlif", readout="count", tau0=4.0, **TINY).readout.neuron
    with torch.no_grad():
        assert neuron(x).sum(0).flatten().tolist() == [4.0] * 10
        assert default(x).sum(0).flatten().tolist() == [1.0] * 10


def test_a_spiking_readout_checks_its_settings_with_the_network():
    """IF ignores tau0, the PLIF readout does not: the record fails, not the build."""
    assert network_config("nmnist", "stcb", tau0=0.5).neuron.tau0 == 0.5
    with pytest.raises(ConfigError) as e:
        network_config("nmnist", "stcb", tau0=0.5, readout="rate")
    assert e.value.key == "tau0" and "> 1" in str(e.value)
