"""Spiking networks: neurons, blocks, the model registry and activity/energy accounting.

``create_model("nmnist-stc-scb-mtlif", n_thresholds=2)`` builds a registered network;
``list_models("nmnist-*")`` lists them; ``ActivityMonitor`` counts spikes, synaptic operations and
MACs; ``NeuronConfig`` is the one record of a network's neuron settings. See docs/networks.md
(networks, recipes, energy) and docs/models.md (neurons, blocks).
"""

from .energy import ActivityMonitor, ActivityReport, EnergyModel
from .neurons import NEURON_KINDS, NeuronConfig, make_neuron
from .registry import create_model, is_model, list_models, model_info, register_model

__all__ = [
    "NEURON_KINDS",
    "ActivityMonitor",
    "ActivityReport",
    "EnergyModel",
    "NeuronConfig",
    "create_model",
    "is_model",
    "list_models",
    "make_neuron",
    "model_info",
    "register_model",
]
