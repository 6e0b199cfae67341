"""Validation at the door: one schema per file kind, checked when the file is loaded.

A file that passes its schema can be used without any later surprise: every metadata field has
the type and range the code relies on, weights are finite, labels lie within the classes, inputs
are finite, and the model it describes fits in this machine's memory. Each failure is one
:class:`~snnsec.errors.InputError` line naming the file, the field, the value found and what was
expected::

    m.pt: meta.T is -1; expected an integer in [1, 100000]

The kinds:

- **model file** (:func:`check_model_meta`, :func:`check_state_dict`, :func:`compare_state_dict`,
  :func:`check_cost`): read by :mod:`snnsec.models.io`;
- **adversarial set** (:func:`check_adversarial_payload`, :func:`check_adversarial_for_model`):
  read by :mod:`snnsec.data.adversarial`;
- **training checkpoint** (:func:`check_checkpoint`): read by :mod:`snnsec.training.stbp`.

The cost bound (T x width x input size may not imply an allocation far beyond the machine) can
be lifted with ``--force`` (:func:`cost_bound_lifted`).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from snnsec.errors import InputError

MAX_T = 100_000
MAX_WIDTH = 1024.0
MAX_CLASSES = 1_000_000
MAX_DIM = 1 << 16
MAX_INPUT_SIZE = 1 << 28
SHA256_HEX = 64

_FORCE: contextvars.ContextVar[bool] = contextvars.ContextVar("snnsec_force", default=False)


# -- primitives --------------------------------------------------------------------------------
def fail(source: str, field: str, value: Any, expected: str) -> InputError:
    """The one message shape: ``<file>: <field> is <value>; expected <what>``."""
    return InputError(f"{source}: {field} is {describe(value)}; expected {expected}")


def describe(value: Any) -> str:
    """A short, one-line picture of a value (tensors by dtype and shape, long text cut)."""
    if _is_tensor(value):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {list(value.shape)}"
    if isinstance(value, (dict, list, tuple)) and len(repr(value)) > 60:
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def need_int(source: str, field: str, value: Any, lo: int, hi: int | None = None) -> int:
    if not is_int(value) or value < lo or (hi is not None and value > hi):
        span = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise fail(source, field, value, f"an integer {span}")
    return value


def need_number(source: str, field: str, value: Any, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
    ok = is_number(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        left = "(" if lo_open else "["
        span = (f" in {left}{lo:g}, {hi:g}]" if lo is not None and hi is not None
                else f" {'>' if lo_open else '>='} {lo:g}" if lo is not None else "")
        raise fail(source, field, value, f"a finite number{span}")
    return float(value)


def need_str(source: str, field: str, value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise fail(source, field, value, "a string" + (" or null" if optional else ""))
    return value


def need_choice(source: str, field: str, value: Any, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    if not isinstance(value, str) or value not in choices:
        raise fail(source, field, value, "one of " + ", ".join(choices))
    return value


def need_mapping(source: str, field: str, value: Any, optional: bool = False) -> dict[str, Any] | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise fail(source, field, value, "a mapping with string keys" + (" or null" if optional else ""))
    return value


def need_keys(source: str, field: str, data: Mapping[str, Any], required: Iterable[str],
              allowed: Iterable[str] | None = None) -> None:
    """Missing required keys and unexpected keys, named."""
    missing = [k for k in required if k not in data]
    if missing:
        raise InputError(f"{source}: {field} lacks the key {missing[0]!r}")
    if allowed is not None:
        allowed = set(allowed)
        extra = sorted(str(k) for k in data if k not in allowed)
        if extra:
            raise InputError(f"{source}: {field} has the unexpected key {extra[0]!r}; "
                             f"expected only: {', '.join(sorted(allowed))}")


# -- the cost bound ----------------------------------------------------------------------------
@contextlib.contextmanager
def cost_bound_lifted(lifted: bool = True) -> Iterator[None]:
    """Within this block :func:`check_cost` only logs (``--force``)."""
    token = _FORCE.set(lifted)
    try:
        yield
    finally:
        _FORCE.reset(token)


def set_cost_bound_lifted(lifted: bool) -> None:
    """For a whole command (the CLI sets it from ``--force``)."""
    _FORCE.set(lifted)


def memory_bytes() -> int:
    """Physical memory of this machine (a generous constant where it cannot be read)."""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    return 64 << 30


def estimated_bytes(T: int, width: float, step_size: int) -> int:
    """A deliberately generous estimate of what building and running one sample of a model costs.

    Weights grow with width squared (about 2e7 parameters at width 1 for the largest registered
    architecture); activations with T x width x the size of one input step: layers run over all
    T steps at once, and about 1024 float values per input element are alive over the layers at
    width 1 (measured: an untrained vgg5 at width 1/8 with T = 100,000 took 20 GB for 2 samples).
    """
    weights = 2e7 * width * width
    activations = 1024.0 * T * width * step_size
    return int(4 * (weights + activations))


def check_cost(source: str, T: int, width: float, step_shape: Iterable[int]) -> None:
    """Refuse a model whose T x width x input size implies an allocation beyond the machine's
    memory for a single sample (``--force`` lifts it)."""
    size = math.prod(int(v) for v in step_shape)
    need = estimated_bytes(T, width, size)
    have = memory_bytes()
    if need <= have:
        return
    text = (f"{source}: T={T}, width={width:g} and input size {size} imply about {gib(need)} of memory "
            f"per sample; this machine has {gib(have)} (pass --force to try anyway)")
    if _FORCE.get():
        import logging

        logging.getLogger("snnsec").warning("%s", text.replace(" (pass --force to try anyway)", "; --force given"))
        return
    raise InputError(text)


def gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n < 2**50 else f"{n / 2**50:,.3g} PiB"


# -- model files -------------------------------------------------------------------------------
MODEL_META_FIELDS = ("arch", "num_classes", "input_shape", "T", "neuron", "encoder", "width", "dataset",
                     "normalization", "class_names", "recipe", "test_accuracy", "snnsec_version", "layout",
                     "layers")
NEURON_FIELDS = {"leak": float, "theta": float, "reset": str, "surrogate": str, "gamma": float}


def check_model_meta(meta: Any, source: str, *, archs: Iterable[str] | None = None,
                     encoders: Iterable[str] | None = None, encoder_ndim: Mapping[str, int] | None = None,
                     step_shapes: Any = None) -> None:
    """Types, ranges and consistency of every model metadata field (``meta.<field>``).

    ``archs``/``encoders`` are the registries' names (the caller knows them; this layer does not);
    ``step_shapes(input_shape)`` gives one input step's shape (the cost bound counts T steps).
    """
    if not isinstance(meta, dict):
        raise fail(source, "meta", meta, "a mapping of model metadata")
    need_keys(source, "meta", meta, ("arch", "num_classes", "input_shape", "T"), MODEL_META_FIELDS)
    if archs is not None:
        need_choice(source, "meta.arch", meta["arch"], archs)
    else:
        need_str(source, "meta.arch", meta["arch"])
    classes = need_int(source, "meta.num_classes", meta["num_classes"], 2, MAX_CLASSES)
    shape = meta["input_shape"]
    if (not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 5
            or not all(is_int(v) and 1 <= v <= MAX_DIM for v in shape)):
        raise fail(source, "meta.input_shape", shape, f"a list of 1 to 5 integers in [1, {MAX_DIM}]")
    if math.prod(shape) > MAX_INPUT_SIZE:
        raise fail(source, "meta.input_shape", shape, f"at most {MAX_INPUT_SIZE} input elements")
    T = need_int(source, "meta.T", meta["T"], 1, MAX_T)
    encoder = meta.get("encoder", "direct")
    if encoders is not None:
        need_choice(source, "meta.encoder", encoder, encoders)
    else:
        need_str(source, "meta.encoder", encoder)
    if encoder_ndim is not None and encoder in encoder_ndim and len(shape) != encoder_ndim[encoder]:
        raise fail(source, "meta.input_shape", shape,
                   f"{encoder_ndim[encoder]} dimensions for the {encoder} encoder")
    width = need_number(source, "meta.width", meta.get("width", 1.0), 0.0, MAX_WIDTH, lo_open=True)
    neuron = meta.get("neuron")
    if neuron is not None:
        need_mapping(source, "meta.neuron", neuron)
        need_keys(source, "meta.neuron", neuron, (), NEURON_FIELDS)
        for key, kind in NEURON_FIELDS.items():
            if key in neuron:
                if kind is float:
                    need_number(source, f"meta.neuron.{key}", neuron[key])
                else:
                    need_str(source, f"meta.neuron.{key}", neuron[key])
    need_str(source, "meta.dataset", meta.get("dataset"), optional=True)
    channels = shape[-3] if len(shape) >= 3 else 1
    norm = meta.get("normalization")
    if norm is not None:
        need_mapping(source, "meta.normalization", norm)
        need_keys(source, "meta.normalization", norm, ("mean", "std"), ("mean", "std"))
        for key in ("mean", "std"):
            values = norm[key]
            if (not isinstance(values, (list, tuple)) or len(values) not in (1, channels)
                    or not all(is_number(v) for v in values)):
                raise fail(source, f"meta.normalization.{key}", values,
                           f"a list of 1 or {channels} finite numbers (one per input channel)")
        bad = [v for v in norm["std"] if not v > 0]
        if bad:
            raise fail(source, "meta.normalization.std", norm["std"], "positive numbers (a std of 0 divides by zero)")
    names = meta.get("class_names")
    if names is not None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(v, str) for v in names):
            raise fail(source, "meta.class_names", names, f"a list of {classes} strings or null")
        if len(names) != classes:
            raise fail(source, "meta.class_names", f"a list of {len(names)} names", f"{classes} names, one per class")
        if len(set(names)) != len(names):
            raise fail(source, "meta.class_names", names, "distinct names")
    need_mapping(source, "meta.recipe", meta.get("recipe", {}))
    acc = meta.get("test_accuracy")
    if acc is not None:
        need_number(source, "meta.test_accuracy", acc, 0.0, 1.0)
    need_str(source, "meta.snnsec_version", meta.get("snnsec_version", ""))
    layers = meta.get("layers")
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(v, dict) for v in layers)):
        raise fail(source, "meta.layers", layers, "a list of layer mappings or null")
    step_shape = step_shapes(shape) if step_shapes is not None else shape
    check_cost(source, T, width, step_shape)


def check_state_dict(state: Any, source: str, field: str = "state_dict") -> None:
    """Every entry a tensor; float tensors finite; BatchNorm variances >= 0."""
    import torch

    if not isinstance(state, dict):
        raise fail(source, field, state, "a mapping of parameter names to tensors")
    for key, value in state.items():
        if not isinstance(key, str):
            raise fail(source, f"a key of {field}", key, "a parameter name (string)")
        where = f"{field}[{key!r}]"
        if not isinstance(value, torch.Tensor):
            raise fail(source, where, value, "a tensor")
        if value.is_floating_point() or value.is_complex():
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                bad = value[~finite].flatten()[0].item()
                raise fail(source, where, f"a tensor holding {bad}", "finite values only")
            if key.endswith("running_var") and bool((value < 0).any()):
                raise fail(source, where, f"a tensor holding {value.min().item():g}",
                           "BatchNorm variances >= 0")
        elif key.endswith("num_batches_tracked") and value.numel() and bool((value < 0).any()):
            raise fail(source, where, value.tolist(), "a count >= 0")


def compare_state_dict(expected: Mapping[str, Any], found: Mapping[str, Any], source: str, what: str) -> None:
    """Name the first missing key, unexpected key or shape difference between two state dicts."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]!r})")
        raise InputError(f"{source}: weights do not match {what}: {' and '.join(parts)} keys")
    for key, ref in expected.items():
        if tuple(found[key].shape) != tuple(ref.shape):
            raise InputError(f"{source}: weights do not match {what}: state_dict[{key!r}] has shape "
                             f"{list(found[key].shape)}; expected {list(ref.shape)}")


# -- adversarial sets --------------------------------------------------------------------------
ADV_FIELDS = ("format", "format_version", "x", "x_adv", "y", "index", "meta")
ADV_META_TYPES: dict[str, tuple[str, Any]] = {
    "attack": ("a mapping or a string", lambda v: isinstance(v, (dict, str))),
    "eps": ("a number or a fraction such as '8/255'", lambda v: isinstance(v, str) or is_number(v)),
    "model_sha256": ("a SHA-256 hex string or null", lambda v: v is None or (isinstance(v, str) and len(v) == SHA256_HEX)),
    "crafted_on_sha256": ("a SHA-256 hex string or null",
                          lambda v: v is None or (isinstance(v, str) and len(v) == SHA256_HEX)),
    "black_box": ("true or false", lambda v: isinstance(v, bool)),
    "model_arch": ("a string", lambda v: isinstance(v, str)),
    "model_T": ("a positive integer", lambda v: is_int(v) and v >= 1),
    "crafted_T": ("a positive integer", lambda v: is_int(v) and v >= 1),
    "dataset": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "split": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "n": ("an integer >= 0", lambda v: is_int(v) and v >= 0),
    "batch_size": ("a positive integer", lambda v: is_int(v) and v >= 1),
    "seed": ("an integer", is_int),
    "snnsec_version": ("a string", lambda v: isinstance(v, str)),
}


def check_adversarial_payload(payload: Mapping[str, Any], source: str) -> None:
    """Fields, dtypes, shapes and values of an adversarial file (no model needed)."""
    import torch

    need_keys(source, "the file", payload, ("x", "x_adv", "y", "index"), ADV_FIELDS)
    x, x_adv, y, index = payload["x"], payload["x_adv"], payload["y"], payload["index"]
    for name, value in (("x", x), ("x_adv", x_adv)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() < 2:
            raise fail(source, name, value, "a float tensor [N, *sample_shape]")
    if x.shape != x_adv.shape:
        raise fail(source, "x_adv", x_adv, f"the shape of x, {list(x.shape)}")
    n = x.shape[0]
    if n < 1:
        raise fail(source, "x", x, "at least one sample")
    for name, value in (("y", y), ("index", index)):
        if (not isinstance(value, torch.Tensor) or value.is_floating_point() or value.is_complex()
                or value.dtype == torch.bool or value.dim() != 1):
            raise fail(source, name, value, f"an integer tensor [N] (N = {n})")
        if value.shape[0] != n:
            raise fail(source, name, value, f"one entry per sample of x ({n})")
        if bool((value < 0).any()):
            raise fail(source, name, f"a tensor holding {int(value.min())}", "values >= 0")
    for name, value in (("x", x), ("x_adv", x_adv)):
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad = value[~finite].flatten()[0].item()
            raise fail(source, name, f"a tensor holding {bad}", "finite inputs only")
    meta = payload.get("meta", {})
    need_mapping(source, "meta", meta)
    for key, (expected, ok) in ADV_META_TYPES.items():
        if key in meta and not ok(meta[key]):
            raise fail(source, f"meta.{key}", meta[key], expected)


def check_adversarial_for_model(source: str, x: Any, x_adv: Any, y: Any, *, domain: tuple[float, float],
                                num_classes: int, input_shape: Iterable[int], model: str = "the model") -> None:
    """Inputs inside the encoder's domain, labels within the model's classes, shapes that fit."""
    shape = list(input_shape)
    if list(x.shape[1:]) != shape:
        raise fail(source, "x", x, f"samples of shape {shape}, which {model} takes")
    low, high = domain
    tol = 1e-5 * max(1.0, abs(high - low)) if math.isfinite(high - low) else 0.0
    for name, value in (("x", x), ("x_adv", x_adv)):
        lo, hi = float(value.min()), float(value.max())
        if lo < low - tol or hi > high + tol:
            raise fail(source, name, f"a tensor with values in [{lo:g}, {hi:g}]",
                       f"inputs inside the encoder's domain [{low:g}, {high:g}]")
    top = int(y.max())
    if top >= num_classes:
        raise fail(source, "y", f"a tensor holding label {top}", f"labels in [0, {num_classes - 1}] ({model} has "
                   f"{num_classes} classes)")


# -- training checkpoints ----------------------------------------------------------------------
CHECKPOINT_FIELDS = ("epoch", "recipe", "model", "optimizer", "scheduler", "generator", "rng", "history")


def check_checkpoint(state: Mapping[str, Any], source: str, epochs: int) -> None:
    """Fields of a training checkpoint (``<out>.ckpt``) and its weights."""
    import torch

    need_keys(source, "the checkpoint", state, CHECKPOINT_FIELDS, CHECKPOINT_FIELDS)
    need_int(source, "epoch", state["epoch"], 0, epochs)
    need_mapping(source, "recipe", state["recipe"])
    check_state_dict(state["model"], source, "model")
    need_mapping(source, "optimizer", state["optimizer"])
    need_mapping(source, "scheduler", state["scheduler"])
    for name in ("generator", "rng"):
        value = state[name]
        if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
            raise fail(source, name, value, "a uint8 random-generator state")
    history = state["history"]
    if not isinstance(history, list) or len(history) != state["epoch"] or not all(isinstance(h, dict) for h in history):
        raise fail(source, "history", history, f"a list of {state['epoch']} per-epoch mappings")
