"""A timm-style registry of named networks.

A network builder is a function returning a ``torch.nn.Module``; ``register_model`` records it
under a name, ``create_model(name, **overrides)`` calls it. Names follow ``<dataset>-<variant>``
(``nmnist-stc-scb-mtlif``); builders declare their overridable settings as keyword arguments with
defaults, so unknown or mistyped overrides are rejected with the list of valid ones before anything
is built.

This module does not import torch; the builders themselves live in
:mod:`eventcompress.nn.networks`, imported on first lookup.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .settings import did_you_mean

__all__ = [
    "ModelEntry",
    "create_model",
    "error_detail",
    "get_entry",
    "is_model",
    "list_models",
    "model_info",
    "register_model",
    "suggest_names",
]

# Modules whose import registers the built-in networks.
_BUILTIN_MODULES = ("eventcompress.nn.networks",)


@dataclass(frozen=True)
class ModelEntry:
    """One registered network: its name, builder and declared (overridable) defaults."""

    name: str
    builder: Callable[..., Any]
    dataset: str = ""
    variant: str = ""
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: ``configure(**overrides)`` returns the network's settings record without building it
    #: (``network_config`` for the built-in networks); None: only building checks the values.
    configure: Callable[..., Any] | None = None

    def check_overrides(self, overrides: Mapping[str, Any], *, source: Any = None,
                        prefix: str = "") -> None:
        """Raise ``ConfigError`` naming the first override the builder does not accept."""
        for key in overrides:
            if key not in self.defaults:
                hint = did_you_mean(key, self.defaults)
                raise ConfigError(
                    f"unknown override {key!r} for model {self.name!r}{hint}; "
                    f"valid overrides: {', '.join(sorted(self.defaults))}",
                    source=source, key=prefix + key,
                )

    def settings(self, overrides: Mapping[str, Any], *, source: Any = None,
                 prefix: str = "") -> Any:
        """Check ``overrides`` (names, types, values) without allocating a network.

        Returns the settings record (``configure``), or, for builders without one, the network
        built on PyTorch's ``meta`` device. A ``ConfigError`` gets ``source`` and its key
        ``prefix + key``; other build errors become a ``ConfigError`` keyed ``prefix``.
        """
        self.check_overrides(overrides, source=source, prefix=prefix)
        try:
            if self.configure is not None:
                return self.configure(**overrides)
            import torch

            with torch.device("meta"):
                return self.builder(**overrides)
        except ConfigError as exc:
            key = prefix + exc.key if exc.key else prefix.rstrip(".") or None
            raise ConfigError(error_detail(exc), source=source, key=key) from None
        except (ValueError, TypeError, RuntimeError) as exc:
            raise ConfigError(f"the overrides do not build a network: {exc}", source=source,
                              key=prefix.rstrip(".") or None) from None


def error_detail(exc: ConfigError) -> str:
    """The message of ``exc`` without its ``source: [key]`` prefix (to re-raise it elsewhere)."""
    message = str(exc)
    for prefix in (f"{exc.source}: " if exc.source is not None else "",
                   f"[{exc.key}] " if exc.key else ""):
        message = message.removeprefix(prefix)
    return message


_REGISTRY: dict[str, ModelEntry] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def _declared_defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    defaults = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.KEYWORD_ONLY or (
            p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty
        ):
            defaults[p.name] = None if p.default is p.empty else p.default
    return defaults


def register_model(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    dataset: str = "",
    variant: str = "",
    description: str = "",
    defaults: Mapping[str, Any] | None = None,
    configure: Callable[..., Any] | None = None,
) -> Any:
    """Register a network builder; usable as ``@register_model`` or ``@register_model(name=...)``.

    Without ``name`` the function name is used with underscores turned into dashes. ``defaults``
    (the accepted overrides and their default values) is read from the keyword arguments of the
    builder's signature unless given; ``configure`` (optional) returns the settings record for
    the same overrides without building (see :meth:`ModelEntry.settings`). Registering a name
    twice is an error.
    """

    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        model_name = name or builder.__name__.replace("_", "-")
        if model_name in _REGISTRY:
            raise ValueError(f"model {model_name!r} is already registered")
        doc = description or (inspect.getdoc(builder) or "").split("\n")[0]
        _REGISTRY[model_name] = ModelEntry(
            name=model_name,
            builder=builder,
            dataset=dataset,
            variant=variant,
            description=doc,
            defaults=dict(defaults) if defaults is not None else _declared_defaults(builder),
            configure=configure,
        )
        return builder

    return decorate(fn) if fn is not None else decorate


def list_models(pattern: str | None = None, *, dataset: str | None = None) -> list[str]:
    """Sorted names of registered networks, optionally filtered by a glob and a dataset."""
    _load_builtins()
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if dataset:
        names = [n for n in names if _REGISTRY[n].dataset == dataset]
    return names


def is_model(name: str) -> bool:
    _load_builtins()
    return name in _REGISTRY


def suggest_names(name: str) -> list[str]:
    """Registered names close to ``name`` (for error messages)."""
    _load_builtins()
    return difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)


def get_entry(name: str, *, source: Any = None, key: str | None = None) -> ModelEntry:
    """The registry entry of ``name``; ``ConfigError`` with close matches when unknown."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = suggest_names(name)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"unknown model {name!r}{hint} (eventcompress models ls lists all "
            f"{len(_REGISTRY)} registered networks)",
            source=source, key=key,
        ) from None


def create_model(name: str, **overrides: Any) -> Any:
    """Build the registered network ``name`` with ``overrides`` replacing its defaults."""
    entry = get_entry(name)
    entry.check_overrides(overrides)
    return entry.builder(**overrides)


def model_info(name: str) -> dict[str, Any]:
    """Name, dataset, variant, description, defaults and parameter count of a network.

    The network is built on PyTorch's ``meta`` device (no memory is allocated) to count its
    parameters.
    """
    import torch

    entry = get_entry(name)
    try:
        with torch.device("meta"):
            model = entry.builder()
    except (RuntimeError, NotImplementedError, TypeError):  # a module not meta-compatible
        model = entry.builder()
    n_params = sum(p.numel() for p in model.parameters())
    info: dict[str, Any] = {
        "name": entry.name,
        "dataset": entry.dataset,
        "variant": entry.variant,
        "description": entry.description,
        "parameters": int(n_params),
        "defaults": dict(entry.defaults),
    }
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "input_shape"):
        info["input_shape"] = tuple(config.input_shape)
        info["n_classes"] = int(config.n_classes)
    return info
