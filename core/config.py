"""Configuration: one dataclass per concern, loaded from YAML, validated on creation.

Unknown keys are errors that name the key; every check names the offending field. The resolved
config is stored beside every checkpoint so export can rebuild the model without the search space.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from core.data.timeline import PARAMS

REGRESSION_TARGETS = tuple(PARAMS)  # scale rotation center_x center_y opacity level_db pan
CLASSIFICATION_TARGETS = {"keyframe": 2, "interpolation": 3}


class ConfigError(ValueError):
    pass


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass
class DataConfig:
    data_dir: str | None = None  # folder of the user's exports; None = the built-in corpus
    # timelines in the built-in corpus: 300 measurably beats 110 at the same compute (benchmarks/RESULTS.md)
    synth_count: int = 300
    synth_seed: int = 0
    step_s: float = 0.1  # frame-table grid step (s)
    window: int = 100  # steps per window (T)
    overlap: int = 20  # steps shared by consecutive windows of a timeline
    max_tracks: int = 8  # tracks per window (K); more tracks -> more track groups
    val_fraction: float = 0.2
    split_seed: int = 0
    # "file": by a hash of the file name; "programme": versions of one edit (shared media, names that
    # differ by a trailing number) stay on one side (core.data.split); "auto": programme for data_dir;
    # "none": every file on the validation side (a folder to evaluate on, not to train on: scripts/evaluate.py)
    split_by: str = "auto"
    workers: int = 0  # parse/window processes; 0 = in-process
    # seconds one file's parse and windowing may take; a slower file is reported and skipped (0 = no limit)
    file_timeout_s: float = 120.0
    cache_dir: str | None = None  # prepared-data cache; None = ~/.cache/xmlai
    # the prepared-data cache's size: past it, the data sets used least recently (not within the last hour) go
    # (GB; 0 = no limit). The real corpora make about 4.6 GB a split.
    cache_max_gb: float = 20.0

    def __post_init__(self) -> None:
        _check(self.step_s > 0, f"data.step_s must be > 0, got {self.step_s}")
        _check(self.window >= 2, f"data.window must be >= 2, got {self.window}")
        _check(0 <= self.overlap < self.window, f"data.overlap must be in [0, window), got {self.overlap}")
        _check(self.max_tracks >= 1, f"data.max_tracks must be >= 1, got {self.max_tracks}")
        _check(0 < self.val_fraction < 1, f"data.val_fraction must be in (0, 1), got {self.val_fraction}")
        _check(self.cache_max_gb >= 0, f"data.cache_max_gb must be >= 0 (0: no limit), got {self.cache_max_gb}")
        _check(
            self.split_by in ("auto", "file", "programme", "none"),
            f"data.split_by must be auto, file, programme or none, got {self.split_by!r}",
        )
        _check(self.synth_count >= 2, f"data.synth_count must be >= 2, got {self.synth_count}")
        _check(self.workers >= 0, f"data.workers must be >= 0, got {self.workers}")
        _check(self.file_timeout_s >= 0, f"data.file_timeout_s must be >= 0, got {self.file_timeout_s}")


MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # name: fields; parameter counts (factorised attention, the default; full has ~1/3 fewer) are
    # printed by scripts/train.py and checked in tests/core/test_model.py
    "tiny": dict(d_model=32, n_heads=2, n_layers=1, d_ff=64),  # ~16k, for tests
    "compact": dict(d_model=64, n_heads=4, n_layers=2, d_ff=128),  # ~0.1M, the default on CPUs
    "small": dict(d_model=96, n_heads=4, n_layers=2, d_ff=384),  # ~0.31M
    "base": dict(d_model=192, n_heads=4, n_layers=3, d_ff=384),  # ~1.36M
    "large": dict(d_model=256, n_heads=8, n_layers=4, d_ff=512),  # ~3.19M
}


@dataclass
class ModelConfig:
    preset: str | None = None  # fills d_model/n_heads/n_layers/d_ff; explicit fields win when given in YAML
    # defaults = the "compact" preset (~0.1M parameters): what trains to the figures within
    # minutes on 2 CPU cores; the larger presets are for GPUs and the search
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.1
    attention: str = "factorised"  # "full" over all (track, step) tokens | "factorised" time then tracks
    targets: list[str] = field(default_factory=lambda: list(REGRESSION_TARGETS))
    classify: list[str] = field(default_factory=lambda: list(CLASSIFICATION_TARGETS))
    # in evaluation and prediction, a regression head gives the value every given clip of the token's track
    # holds, where they all hold one: with half the clips given, the four real-corpus models scored 0.744
    # against the data's constant with it on 160 public exports from other editors, 0.803 without, and 0.540
    # against 0.548 on the corpora's own validation files (benchmarks/RESULTS.md)
    agree_rule: bool = True

    def __post_init__(self) -> None:
        if self.preset is not None:
            _check(
                self.preset in MODEL_PRESETS,
                f"model.preset must be one of {sorted(MODEL_PRESETS)}, got {self.preset!r}",
            )
        _check(self.d_model > 0 and self.n_heads > 0, "model.d_model and model.n_heads must be > 0")
        _check(
            self.d_model % self.n_heads == 0,
            f"model.n_heads ({self.n_heads}) must divide model.d_model ({self.d_model})",
        )
        _check(self.n_layers >= 1, f"model.n_layers must be >= 1, got {self.n_layers}")
        _check(self.d_ff >= 1, f"model.d_ff must be >= 1, got {self.d_ff}")
        _check(0 <= self.dropout < 1, f"model.dropout must be in [0, 1), got {self.dropout}")
        _check(
            self.attention in ("full", "factorised"),
            f"model.attention must be 'full' or 'factorised', got {self.attention!r}",
        )
        for t in self.targets:
            _check(t in REGRESSION_TARGETS, f"model.targets: unknown target {t!r} (known: {list(REGRESSION_TARGETS)})")
        for t in self.classify:
            _check(
                t in CLASSIFICATION_TARGETS,
                f"model.classify: unknown head {t!r} (known: {list(CLASSIFICATION_TARGETS)})",
            )
        _check(len(self.targets) + len(self.classify) > 0, "model needs at least one head")

    @property
    def heads(self) -> list[str]:
        return list(self.targets) + list(self.classify)


@dataclass
class LossConfig:
    weights: dict[str, float] = field(default_factory=dict)  # head -> weight; missing heads weigh 1.0
    keyframe_pos_weight: float | None = None  # CE weight of the "key here" class; None = sqrt(neg/pos) of train
    # a factor on that weight (explicit or from the data): the search samples it around 1, so that the
    # default (the data's own sqrt(neg/pos)) is a point of the space whatever the data
    keyframe_pos_scale: float = 1.0
    # training loss of the regression heads on standardised targets: "mse", or "huber" (quadratic within
    # huber_delta standard deviations, linear beyond), so a few -60 dB floors or 325 % scales cannot
    # dominate the gradients. Evaluation always reports the MSE ratios.
    regression: str = "mse"
    huber_delta: float = 1.0
    # regression heads trained with the Huber loss whatever ``regression`` says: targets that are one value
    # on nearly every clip, where the few clips far off belong to one programme's style (a rotated still, a
    # picture-in-picture corner) and would pull a new programme's prediction away from the usual value.
    # The default, rotation and centre, brought them within 5 % of the best constant, structure only, on
    # the real validation programmes of seed 0 (benchmarks/RESULTS.md); pan, level, opacity and scale stay on
    # MSE, where the large values (hard left/right, -60 dB floors, fades to black, 325 % scale) are what
    # the structure predicts
    huber_heads: list[str] = field(default_factory=lambda: ["rotation", "center_x", "center_y"])
    # 0 = off. > 0: a regression head's squared error on a training window is divided by the variance of that
    # target within the window's programme (its file where the split is by file; standardised units, floored
    # at this value), so training minimises what the evaluation reports on a programme it never saw, each
    # programme's error against its own best constant, instead of letting the programmes whose values spread
    # widely set what a programme that keeps one value is predicted (core.learn.loaders.programme_target_weights).
    # Off by default: on four splits of the real corpora, 0.1 left no head above 1.05 structure only and made the
    # two hard splits better (0.937 -> 0.883, 0.911 -> 0.864) but the two others worse (0.697 -> 0.843,
    # 0.799 -> 0.886), where the structure explains widely spread pan, opacity and scale (benchmarks/RESULTS.md)
    programme_floor: float = 0.0
    # the weight is (that variance) ** -programme_power: 1 the error against the programme's constant, 0.5 half
    # way (a programme whose values spread still teaches the structure that explains them: hard-panned stems)
    programme_power: float = 1.0
    # where those weights apply: "all" training timelines, or "structure" only those given no clip this epoch
    # (train.context_none's share and the draws of 0 clips): the hedge they curb is a structure-only one, and with
    # clips given the model reads the programme's habit from them, most usefully where its values spread
    programme_scope: str = "all"

    def __post_init__(self) -> None:
        known = set(REGRESSION_TARGETS) | set(CLASSIFICATION_TARGETS)
        for k, v in self.weights.items():
            _check(k in known, f"loss.weights: unknown head {k!r} (known: {sorted(known)})")
            _check(float(v) >= 0, f"loss.weights.{k} must be >= 0, got {v}")
        if self.keyframe_pos_weight is not None:
            _check(self.keyframe_pos_weight > 0, "loss.keyframe_pos_weight must be > 0")
        _check(self.keyframe_pos_scale > 0, f"loss.keyframe_pos_scale must be > 0, got {self.keyframe_pos_scale}")
        _check(self.regression in ("mse", "huber"), f"loss.regression must be mse or huber, got {self.regression!r}")
        _check(self.huber_delta > 0, f"loss.huber_delta must be > 0, got {self.huber_delta}")
        _check(self.programme_floor >= 0, f"loss.programme_floor must be >= 0, got {self.programme_floor}")
        _check(self.programme_power >= 0, f"loss.programme_power must be >= 0, got {self.programme_power}")
        _check(
            self.programme_scope in ("all", "structure"),
            f"loss.programme_scope must be all or structure, got {self.programme_scope!r}",
        )
        for h in self.huber_heads:
            _check(h in REGRESSION_TARGETS, f"loss.huber_heads: unknown target {h!r} (known: {REGRESSION_TARGETS})")

    def huber(self, head: str) -> bool:
        """Whether ``head`` trains with the Huber loss."""
        return self.regression == "huber" or head in self.huber_heads

    def weight(self, head: str) -> float:
        return float(self.weights.get(head, 1.0))


@dataclass
class TrainConfig:
    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    optimizer: str = "adamw"  # adam | adamw | sgd
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"  # cosine | step | plateau | none
    warmup_epochs: int = 1
    step_size: int = 10  # step schedule: epochs per decay
    gamma: float = 0.5  # step/plateau decay factor
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    explode_factor: float = 1e4  # stop when a grad norm exceeds this times the running median
    early_stopping: int = 5  # epochs without val_objective improvement; 0 = off
    # training windows drawn (without replacement) per epoch; 0 = as many as there are (with programme_balance
    # a weighted draw with replacement, else all). Real corpora give 10,000+ windows of long programmes: a
    # subset per epoch lets early stopping look at the validation files more often
    epoch_windows: int = 0
    # validation windows of the structure-only pass (val_objective): 0 = all; N = an even subset of N, every
    # (total / N)-th window in file order, the same every epoch (core.learn.loaders.even_windows), so every
    # validation file keeps about its share; the pass with clips given sees all. The search's stage 1 caps it
    # (distributed.settings.LAPTOP_SEARCH): on the real corpora, validating their 2,199 windows with a clip twice
    # per epoch took most of a stage-1 epoch; refits and train.py validate on all
    val_windows: int = 0
    # training windows are drawn with weight n ** -programme_balance, n the training windows of the window's
    # programme (its file where the split is by file): 0 = every window alike, so a few long programmes set
    # the habits; 1 = every programme alike (core.learn.loaders.programme_weights). 0.5 took the real
    # corpora's structure-only objective from 0.778 to 0.742 on average over two splits and two training
    # seeds, better in all four, and left the built-in run as it was (benchmarks/RESULTS.md)
    programme_balance: float = 0.5
    # exponential moving average of the weights, validated and checkpointed instead of the raw weights
    # (core.learn.average.WeightAverage); 0 = off, 0.99-0.999 typical
    ema_decay: float = 0.0
    # after training, stack each head of the best checkpoint with the train constant and the same-track
    # rule, fitted on the validation files (core.learn.calibrate); scripts/train.py does it. Off by
    # default: on the real corpora, fitted on half of the validation programmes, it made the other half
    # worse (benchmarks/RESULTS.md): a few heterogeneous programmes do not transfer eleven numbers per head
    calibrate: bool = False
    context_max: float = 0.5  # training draws the given-clip fraction per window from U(0, context_max)
    # share of training timelines (drawn per epoch) with no clip given: structure only, what val_objective
    # measures. U(0, context_max) alone almost never gives nothing in a whole timeline (2 % of 100-clip ones),
    # so the heads learned to lean on the given clips' summary and structure-only predictions suffered
    # (benchmarks/RESULTS.md: on the real corpora 0.81 -> 0.71 and 0.93 -> 0.77 with the geometry block)
    context_none: float = 0.25
    eval_context: float = 0.5  # the second evaluation's given fraction (the first is 0)
    # calibrated key probability at which a local peak counts as a key; 0.1 maximised F1 (within one step)
    # on the training windows of the default run (benchmarks/RESULTS.md)
    keyframe_threshold: float = 0.1
    # a checkpoint folder, or a run folder (its checkpoints/best), whose weights the run starts from
    # (fine-tuning, e.g. real exports after the built-in corpus); same model shapes and features
    init_from: str | None = None
    seed: int = 0
    device: str = "auto"  # cpu | cuda | auto
    amp: str = "auto"  # auto (bf16 on cuda) | bf16 | off
    compile: bool = False  # torch.compile on cuda
    loader_workers: int = 0
    log_every: int = 0  # batches between progress-bar updates of the loss; 0 = per epoch only

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"train.epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"train.batch_size must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"train.lr must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, f"train.weight_decay must be >= 0, got {self.weight_decay}")
        _check(
            self.optimizer in ("adam", "adamw", "sgd"),
            f"train.optimizer must be adam, adamw or sgd, got {self.optimizer!r}",
        )
        _check(
            self.schedule in ("cosine", "step", "plateau", "none"),
            f"train.schedule must be cosine, step, plateau or none, got {self.schedule!r}",
        )
        _check(self.device in ("cpu", "cuda", "auto"), f"train.device must be cpu, cuda or auto, got {self.device!r}")
        _check(self.amp in ("auto", "bf16", "off"), f"train.amp must be auto, bf16 or off, got {self.amp!r}")
        _check(0 <= self.context_max < 1, f"train.context_max must be in [0, 1), got {self.context_max}")
        _check(0 <= self.context_none < 1, f"train.context_none must be in [0, 1), got {self.context_none}")
        _check(0 <= self.eval_context < 1, f"train.eval_context must be in [0, 1), got {self.eval_context}")
        _check(self.grad_clip >= 0, "train.grad_clip must be >= 0")
        _check(self.epoch_windows >= 0, f"train.epoch_windows must be >= 0, got {self.epoch_windows}")
        _check(self.val_windows >= 0, f"train.val_windows must be >= 0, got {self.val_windows}")
        _check(
            0 <= self.programme_balance <= 1,
            f"train.programme_balance must be in [0, 1], got {self.programme_balance}",
        )
        _check(0 <= self.ema_decay < 1, f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        _check(
            0 < self.keyframe_threshold < 1,
            f"train.keyframe_threshold must be in (0, 1), got {self.keyframe_threshold}",
        )


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml())


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "loss": LossConfig, "train": TrainConfig}


def preset_fields(name: str) -> dict[str, Any]:
    """The architecture fields a named preset fills (explicit fields given beside it win)."""
    if name not in MODEL_PRESETS:
        raise ConfigError(f"model.preset must be one of {sorted(MODEL_PRESETS)}, got {name!r}")
    return MODEL_PRESETS[name]


def _as_float(v: str, where: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ConfigError(f"{where} must be a number, got {v!r}") from None


def _numbers(cls, section: str, values: dict[str, Any]) -> dict[str, Any]:
    """PyYAML reads YAML 1.1, where ``1e-3`` (no dot) is a string, not a number: in a config file or a
    ``--set train.lr 1e-3``. A float field (and a loss weight) takes any string Python reads as a number."""
    types = {f.name: f.type for f in fields(cls)}
    out = {}
    for k, v in values.items():
        if isinstance(v, str) and types[k] in ("float", "float | None"):
            v = _as_float(v, f"{section}.{k}")
        elif isinstance(v, dict) and types[k] == "dict[str, float]":
            v = {n: _as_float(w, f"{section}.{k}.{n}") if isinstance(w, str) else w for n, w in v.items()}
        out[k] = v
    return out


def _build(cls, section: str, values: dict[str, Any]):
    if not isinstance(values, dict):
        raise ConfigError(f"{section}: expected a mapping, got {type(values).__name__}")
    names = {f.name for f in fields(cls)}
    for k in values:
        if k not in names:
            raise ConfigError(f"unknown config key {section}.{k} (known: {sorted(names)})")
    values = _numbers(cls, section, values)
    if cls is ModelConfig and values.get("preset"):
        values = {**preset_fields(values["preset"]), **values}
    try:
        return cls(**values)
    except TypeError as e:
        raise ConfigError(f"{section}: {e}") from None


def config_from_dict(d: dict[str, Any] | None) -> Config:
    """Build a validated Config from nested dicts; unknown sections or keys raise ConfigError."""
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"config must be a mapping, got {type(d).__name__}")
    for k in d:
        if k not in _SECTIONS:
            raise ConfigError(f"unknown config section {k!r} (known: {sorted(_SECTIONS)})")
    return Config(**{k: _build(cls, k, d.get(k) or {}) for k, cls in _SECTIONS.items()})


def load_config(path: str | Path) -> Config:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return config_from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def apply_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """Return a new Config with dotted overrides (``{"model.d_model": 64}``) applied and validated."""
    d = cfg.to_dict()
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if section not in _SECTIONS or not key:
            raise ConfigError(f"override {dotted!r} must be SECTION.KEY with SECTION in {sorted(_SECTIONS)}")
        if key.startswith("weights.") and section == "loss":
            d["loss"]["weights"][key.split(".", 1)[1]] = value
            continue
        d[section][key] = value
    if any(k.startswith("model.") and k != "model.preset" for k in overrides) and "model.preset" not in overrides:
        d["model"]["preset"] = None  # explicit architecture fields win over a preset
    elif "model.preset" in overrides and overrides["model.preset"]:
        explicit = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("model.")}
        d["model"].update({**preset_fields(overrides["model.preset"]), **explicit})
    return config_from_dict(d)


def replace(cfg: Config, **sections: Any) -> Config:
    return dataclasses.replace(cfg, **sections)
