"""Named search spaces and user space files; spaces only sample (no data, no models).

A space is an Optuna define-by-run function ``space(trial) -> dict | None``:

- every ``trial.suggest_*`` whose name is a dotted config key (``"model.n_layers"``,
  ``"loss.weights.scale"``) becomes a config override; names without a dot (``"head_dim"``) are
  auxiliary and only feed derived values;
- the returned dict holds derived or constant overrides (``{"model.d_model": n_heads * head_dim}``).

Named spaces: ``architecture`` (laptop sizes), ``architecture_large`` (GPU-cluster sizes),
``loss_weights``, ``training`` (context fraction, warm-up, clipping, optimiser settings), ``full``
(architecture + loss weights + training: the default of scripts/tune.py). A user gives ``--space PATH`` with

- a Python file defining ``space(trial)`` as above, or
- a YAML file mapping dotted keys to distributions, optionally on top of a named space::

      base: architecture          # optional: sample this named space first
      train.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
      model.n_layers: {type: int, low: 2, high: 6}
      model.attention: {type: categorical, choices: [full, factorised]}
      train.batch_size: 64        # a constant

Space objects are small picklable classes (OptunaSearch pickles its space into the experiment state,
and a resumed search must find it again).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from core.config import Config, apply_overrides

NAMES = ("architecture", "architecture_large", "loss_weights", "training", "full")
_FUNCTIONS = {"architecture_large": ("architecture", "space_large")}
_NUM = {"low", "high", "log", "step"}
_DIST_KEYS = {"float": _NUM, "int": _NUM, "categorical": {"choices"}}


class SpaceError(ValueError):
    pass


class NamedSpace:
    """A built-in space by name (pickled as the name)."""

    def __init__(self, name: str):
        if name not in NAMES:
            raise SpaceError(f"unknown search space {name!r} (named spaces: {', '.join(NAMES)}; or a .py/.yaml path)")
        self.name = name

    def __call__(self, trial) -> dict | None:
        module, fn = _FUNCTIONS.get(self.name, (self.name, "space"))
        return getattr(importlib.import_module(f"search_spaces.{module}"), fn)(trial)

    def __repr__(self) -> str:
        return f"NamedSpace({self.name!r})"


class FileSpace:
    """``space(trial)`` from a user's Python file; pickled as its absolute path and reloaded lazily."""

    def __init__(self, path: str | Path):
        self.path = str(Path(path).resolve())
        self._fn = None
        self._load()  # fail now, not in the first trial

    def _load(self):
        if self._fn is None:
            spec = importlib.util.spec_from_file_location(f"xmlai_user_space_{abs(hash(self.path))}", self.path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if not callable(getattr(module, "space", None)):
                raise SpaceError(f"{self.path}: a space file must define space(trial) -> dict | None")
            self._fn = module.space
        return self._fn

    def __call__(self, trial) -> dict | None:
        return self._load()(trial)

    def __getstate__(self):
        return {"path": self.path, "_fn": None}

    def __repr__(self) -> str:
        return f"FileSpace({self.path!r})"


class YamlSpace:
    """Distributions from a YAML mapping (see the module docstring)."""

    def __init__(self, spec: dict[str, Any], source: str = "<yaml>"):
        if not isinstance(spec, dict):
            raise SpaceError(f"{source}: a YAML space must be a mapping of dotted config keys")
        spec = dict(spec)
        base = spec.pop("base", None)
        self.base = NamedSpace(base) if base else None
        for key, dist in spec.items():
            if "." not in key:
                raise SpaceError(f"{source}: {key!r} is not a dotted config key (SECTION.KEY)")
            if isinstance(dist, dict):
                kind = dist.get("type")
                if kind not in _DIST_KEYS:
                    raise SpaceError(f"{source}: {key}: type must be one of {sorted(_DIST_KEYS)}, got {kind!r}")
                extra = set(dist) - _DIST_KEYS[kind] - {"type"}
                if extra:
                    raise SpaceError(f"{source}: {key}: unknown fields {sorted(extra)} for type {kind}")
                need = {"choices"} if kind == "categorical" else {"low", "high"}
                if need - set(dist):
                    raise SpaceError(f"{source}: {key}: missing {sorted(need - set(dist))}")
        self.spec, self.source = spec, source

    def _suggest(self, trial, key: str):
        dist = self.spec[key]
        kind = dist["type"]
        if kind == "categorical":
            return trial.suggest_categorical(key, list(dist["choices"]))
        if kind == "float":
            step = float(dist["step"]) if dist.get("step") is not None else None
            return trial.suggest_float(
                key, float(dist["low"]), float(dist["high"]), log=bool(dist.get("log")), step=step
            )
        return trial.suggest_int(
            key, int(dist["low"]), int(dist["high"]), log=bool(dist.get("log")), step=int(dist.get("step") or 1)
        )

    def __call__(self, trial) -> dict | None:
        # The base space sees the YAML's distributions for the keys the YAML redefines (Optuna forbids
        # one name with two distributions), so its conditionals follow the YAML's values.
        derived = dict(self.base(_Redefined(trial, self)) or {}) if self.base else {}
        for key, dist in self.spec.items():
            if isinstance(dist, dict):
                self._suggest(trial, key)  # idempotent when the base already asked for it
                derived.pop(key, None)
            else:
                derived[key] = dist  # a constant
        return derived or None

    def __repr__(self) -> str:
        return f"YamlSpace({self.source!r})"


class _Redefined:
    """Optuna trial proxy: suggestions for keys a YamlSpace redefines use the YAML's distribution."""

    def __init__(self, trial, yaml_space: YamlSpace):
        self._trial, self._space = trial, yaml_space

    def __getattr__(self, attr):
        target = getattr(self._trial, attr)
        if not attr.startswith("suggest_"):
            return target

        def suggest(name, *args, **kwargs):
            if isinstance(self._space.spec.get(name), dict):
                return self._space._suggest(self._trial, name)
            if name in self._space.spec:
                return self._space.spec[name]  # a constant replaces the base's distribution
            return target(name, *args, **kwargs)

        return suggest


def resolve(name_or_path: str):
    """The space for a name (``architecture``, ``loss_weights``, ``full``) or a ``.py`` / ``.yaml`` file path."""
    if name_or_path in NAMES:
        return NamedSpace(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".py" and path.is_file():
        return FileSpace(path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return YamlSpace(yaml.safe_load(path.read_text()), source=str(path))
    raise SpaceError(
        f"unknown search space {name_or_path!r}: use one of {', '.join(NAMES)} "
        "or the path of an existing .py (defining space(trial)) or .yaml file"
    )


# The named spaces' auxiliary names, derived back from a config (the spaces derive the config from them).
_AUX = {
    "head_dim": lambda m: m.d_model // m.n_heads if m.d_model % m.n_heads == 0 else None,
    "ff_mult": lambda m: m.d_ff // m.d_model if m.d_ff % m.d_model == 0 else None,
}


def config_value(cfg: Config, key: str) -> Any:
    """The value of a dotted config key (``loss.weights.HEAD`` is the head's weight, 1.0 when unset)."""
    section, name = key.split(".", 1)
    if section == "loss" and name.startswith("weights."):
        return cfg.loss.weight(name.split(".", 1)[1])
    return getattr(getattr(cfg, section), name)


class _PointTrial:
    """An Optuna trial stand-in that answers every suggestion with the config's own value (default_point)."""

    def __init__(self, cfg: Config):
        self.cfg, self.params, self.outside = cfg, {}, []

    def _answer(self, name: str, fits, fallback):
        if name in _AUX:
            value = _AUX[name](self.cfg.model)
        else:
            value = config_value(self.cfg, name) if "." in name else None
        if value is None or not fits(value):
            self.outside.append(name)
            value = fallback  # the space goes on (its conditionals need a value); the point is void anyway
        self.params[name] = value
        return value

    def suggest_float(self, name, low, high, *, step=None, log=False):
        return self._answer(name, lambda v: isinstance(v, int | float) and low <= v <= high, low)

    def suggest_int(self, name, low, high, *, step=1, log=False):
        return self._answer(name, lambda v: isinstance(v, int) and low <= v <= high and (v - low) % step == 0, low)

    def suggest_categorical(self, name, choices):
        return self._answer(name, lambda v: v in choices, choices[0])


def default_point(space, cfg: Config) -> tuple[dict[str, Any], list[str]]:
    """The space's parameters that make ``cfg`` itself, and the names whose value in ``cfg`` the space cannot
    give (empty: ``cfg`` is a point of the space, which a search can evaluate first: OptunaSearch's
    ``points_to_evaluate``). A user's space that asks its trial for more than suggestions has no such point."""
    trial = _PointTrial(cfg)
    try:
        derived = space(trial) or {}
    except (AttributeError, TypeError) as e:
        return {}, [f"(the space asks its trial for more than suggestions: {e})"]
    outside = trial.outside + [k for k, v in derived.items() if "." in k and config_value(cfg, k) != v]
    return trial.params, list(dict.fromkeys(outside))  # a YAML space asks again for the keys it redefines


def overrides_of(params: dict[str, Any]) -> dict[str, Any]:
    """Config overrides of one sample: the dotted keys (auxiliary names without a dot are dropped)."""
    return {k: v for k, v in params.items() if "." in k}


def config_of(base: Config, params: dict[str, Any]) -> Config:
    """The validated Config of one sample (sampled and derived values on top of ``base``)."""
    return apply_overrides(base, overrides_of(params))


__all__ = [
    "NAMES",
    "NamedSpace",
    "FileSpace",
    "YamlSpace",
    "SpaceError",
    "resolve",
    "overrides_of",
    "config_of",
    "config_value",
    "default_point",
]
