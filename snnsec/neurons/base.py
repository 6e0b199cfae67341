r"""The neuron protocol: one class owns a neuron type's behaviour everywhere it is used.

A neuron model is the paper's neuron family (Bu et al., CVPR 2023, §3.1, Eq. 3-6) with one
firing and reset rule. Its class is the single home of:

- the float step (charge, fire with a surrogate gradient, reset) that models train and attack;
- the same step without autograd functions (:meth:`NeuronModel.plain_step`), which the ONNX
  exporter and the float reference simulator run;
- its rate-domain behaviour: the RGA slope of Eq. (19) and the static R-I curve of Eq. (18);
- its Loihi 2 integer form: the threshold mantissa, ``vDecay`` and the integer reset that the
  fixed-point reference, the emulator and Lava run;
- its mapping to each export target: the Lava process, and whether NetX's CUBA neuron can
  express it.

Every consumer asks the neuron; nothing outside :mod:`snnsec.neurons` branches on a reset mode.
The registry key is :attr:`NeuronParameters.reset`, so model files name their neuron type.

A new neuron type is one file with a ``@register_neuron`` subclass, plus one import line in
``snnsec/neurons/__init__.py``. The conformance tests are parametrised over :data:`NEURONS`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from snnsec.errors import InputError, unknown_choice
from snnsec.neurons.functional import NeuronParameters, NeuronState, spike, spike_slope

Partial = torch.Tensor | float
"""An elementwise partial derivative: a tensor, or a number where it is constant."""

DECAY_UNITY = 4096
"""Loihi's 12-bit decays: ``vDecay = 4096`` empties ``v`` every step."""


class NeuronModel:
    """Base class of the neuron types; the defaults are the paper's neuron with a hard reset.

    Args:
        p: the layer's parameters (leak, threshold, reset, surrogate).

    Subclasses override :meth:`reset` and :meth:`fixed_reset` (and :meth:`lava_process` or
    :meth:`netx_problem` when their reset needs something other than Lava's CUBA neuron).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __init__(self, p: NeuronParameters) -> None:
        self.p = p

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.p})"

    @property
    def leak(self) -> float:
        return float(self.p.leak)

    @property
    def theta(self) -> float:
        return float(self.p.theta)

    # -- float dynamics (Eq. 3-6) ---------------------------------------------------------------
    def charge(self, u: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Eq. (3): :math:`u(t) = \\lambda u(t-1) + I(t)`."""
        return u + current if self.p.leak == 1.0 else self.p.leak * u + current

    def fire(self, u: torch.Tensor) -> torch.Tensor:
        """Eq. (4) with the STBP surrogate backward: :math:`s = H(u - \\theta)`, :math:`H(0) = 1`.

        Where no gradient can flow (``no_grad``, eval forwards, the fused training loop's forward
        pass), the same spikes come from one comparison instead of :func:`spike`'s five
        elementwise passes and autograd function: see :meth:`_compare_is_exact`."""
        if not (u.requires_grad and torch.is_grad_enabled()) and self._compare_is_exact(u):
            return NeuronModel.fires(self, u)  # this class's comparison: a subclass's fires is its own rule
        return spike(u - self.p.theta, self.p)

    def _compare_is_exact(self, u: torch.Tensor) -> bool:
        """Whether ``u >= theta`` equals :func:`spike`'s forward value bit for bit for every ``u``.

        Its forward is ``H(x') + [x == 0]`` with ``x = u - theta`` and ``x'`` = ``x / gamma``
        (triangle), ``gamma * x`` (super) or ``x``; ``H(y) = [y > 0]`` (Norse's Heaviside). Both
        sides round ``theta`` to ``u``'s dtype. With gradual underflow ``x == 0`` exactly when
        ``u == theta``, and ``x`` has the sign of ``u - theta``; so they agree unless the scaling
        underflows a positive ``x`` to 0. A nonzero ``x`` is at least ``ulp(theta) >=
        theta * 2**-24`` in float32, so ``x'`` stays above float32's smallest subnormal
        (``2**-149``) while ``theta * min(gamma, 1/gamma) >= 2**-100``, far below any real
        threshold. Other dtypes (half precision) keep :func:`spike`."""
        if u.dtype not in (torch.float32, torch.float64):
            return False
        gamma = float(self.p.gamma)
        return float(self.p.theta) * min(gamma, 1.0 / gamma) >= 2.0**-100

    def fires(self, u: torch.Tensor) -> torch.Tensor:
        """Eq. (4) as a plain comparison (no autograd function): what ONNX and references run."""
        return (u >= self.p.theta).to(u.dtype)

    def fire_partials(self, u: torch.Tensor) -> tuple[torch.Tensor]:
        """:math:`\\partial s(t)/\\partial u(t)` of :meth:`fire` with a gradient to carry: the
        surrogate's slope at ``u - theta`` (:func:`spike_slope`, equal to autograd's bit for bit)."""
        return (spike_slope(u - self.p.theta, self.p),)

    def reset(self, u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The potential after the spikes ``z`` (plain, differentiable tensor arithmetic)."""
        raise NotImplementedError

    def step(self, current: torch.Tensor, state: NeuronState) -> tuple[torch.Tensor, NeuronState]:
        """One training/attack step: spikes ``s(t)`` and the state after the reset."""
        u = self.charge(state.u, current)
        z = self.fire(u)
        return z, NeuronState(self.reset(u, z))

    # -- elementwise partials for the fused training loop (snnsec.neurons.fused) -----------------
    def charge_partials(self, u: torch.Tensor, current: torch.Tensor) -> tuple[Partial, Partial]:
        """:math:`\\partial u(t)/\\partial u(t-1)` and :math:`\\partial u(t)/\\partial I(t)` of
        Eq. (3), which is linear: the constants ``(lambda, 1)``."""
        return float(self.p.leak), 1.0

    def partials(self, fn: str, *args: torch.Tensor) -> tuple[Partial, ...]:
        """The elementwise partials of ``charge`` or ``reset`` at ``(a, b)``, or of ``fire`` at
        ``u``: a tensor each, or a number where the partial is constant.

        They come from ``<fn>_partials`` when the class that defines ``fn`` also defines it (a
        closed form next to the function it differentiates), and otherwise from autograd
        through ``fn`` itself, so a subclass that overrides ``reset`` (or ``fire``) alone stays
        correct.
        """
        closed = f"{fn}_partials"
        if _owner(type(self), fn) is _owner(type(self), closed):
            partials: tuple[Partial, ...] = getattr(self, closed)(*args)
            return partials
        with torch.enable_grad():
            leaves = tuple(a.detach().requires_grad_(True) for a in args)
            grads = torch.autograd.grad(getattr(self, fn)(*leaves).sum(), leaves, allow_unused=True)
        return tuple(g if g is not None else 0.0 for g in grads)

    def plain_step(self, current: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same step as :meth:`step` with a plain threshold: ``(spikes, u after reset)``."""
        u = self.charge(u, current)
        z = self.fires(u)
        return z, self.reset(u, z)

    # -- rate domain (RGA, §4.2-4.3) ------------------------------------------------------------
    def rga_slopes(self, beta: float = 2.0, gamma: float = 0.2) -> tuple[float, float]:
        r"""The two non-zero slopes of Eq. (19): :math:`\gamma` and
        :math:`\frac{1-\gamma\theta+\gamma\theta\lambda}{(\beta+\lambda-1)\theta}`."""
        theta, leak = self.p.theta, self.p.leak
        return gamma, (1.0 - gamma * theta + gamma * theta * leak) / ((beta + leak - 1.0) * theta)

    def rga_region(self, current: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
        r"""Which interval of Eq. (19) each :math:`\bar I` falls in, as ``uint8``.

        0: outside :math:`[0, \beta\theta]`; 1: :math:`[0, (1-\lambda)\theta]` (empty for IF);
        2: :math:`((1-\lambda)\theta, \beta\theta]`. Every point is in exactly one interval (the
        reference code counts the knee in both).
        """
        knee = (1.0 - self.p.leak) * self.p.theta
        region = ((current >= 0) & (current <= beta * self.p.theta)).to(torch.uint8) * 2
        if knee > 0:
            region.sub_(((current >= 0) & (current <= knee)).to(torch.uint8))
        return region

    @staticmethod
    def slope_of(region: torch.Tensor, slopes: tuple[float, float], dtype: torch.dtype) -> torch.Tensor:
        """Slopes per neuron from :meth:`rga_region`'s intervals."""
        out = torch.zeros(region.shape, dtype=dtype, device=region.device)
        out.masked_fill_(region == 1, slopes[0])
        return out.masked_fill_(region == 2, slopes[1])

    def rga_slope(self, current: torch.Tensor, beta: float = 2.0, gamma: float = 0.2) -> torch.Tensor:
        r""":math:`\partial r/\partial \bar I` of Eq. (19) (Eq. (15) for IF), elementwise."""
        return self.slope_of(self.rga_region(current, beta), self.rga_slopes(beta, gamma), current.dtype)

    def rga_rate(self, current: torch.Tensor, beta: float = 2.0, gamma: float = 0.2) -> torch.Tensor:
        """The relaxed R-I curve whose slope is :meth:`rga_slope`: 0 below 0, 1 above beta*theta."""
        knee = (1.0 - self.p.leak) * self.p.theta
        g, slope = self.rga_slopes(beta, gamma)
        first = g * current.clamp(0.0, knee)
        second = slope * (current.clamp(knee, beta * self.p.theta) - knee)
        return torch.where(current <= 0, torch.zeros_like(current), first + second)

    def static_rate(self, current: torch.Tensor) -> torch.Tensor:
        r"""The static R-I curve of Eq. (18): the rate under a constant input current.

        :math:`r = \lceil \log_\lambda \frac{I + \theta(\lambda-1)}{I} \rceil^{-1}` for
        :math:`I > (1-\lambda)\theta` (0 below); for IF its limit :math:`\lceil \theta / I \rceil^{-1}`.
        Capped at one spike per step.
        """
        p, i = self.p, current.double()
        if p.leak == 1.0:
            steps = torch.ceil(p.theta / i.clamp_min(1e-12))
            valid = i > 0
        else:
            ratio = (i + p.theta * (p.leak - 1.0)) / i.clamp_min(1e-12)
            valid = i > (1.0 - p.leak) * p.theta
            steps = torch.ceil(torch.log(ratio.clamp_min(1e-300)) / math.log(p.leak))
        rate = torch.where(valid, 1.0 / steps.clamp_min(1.0), torch.zeros_like(i))
        return rate.to(current.dtype)

    # -- Loihi 2 integer form -------------------------------------------------------------------
    def v_decay(self) -> int:
        """Loihi's ``vDecay`` for the leak: ``round((1 - lambda) * 4096)``; IF is 0."""
        v_decay = int(round((1.0 - self.p.leak) * DECAY_UNITY))
        if v_decay >= DECAY_UNITY:
            raise InputError(f"leak {self.p.leak} decays faster than Loihi's 12-bit vDecay can express; "
                             f"expected leak > {0.5 / DECAY_UNITY}")
        return v_decay

    def vth_mant(self, theta_mant: int) -> int:
        """Loihi's threshold mantissa when theta is ``theta_mant`` integer units.

        Loihi spikes if ``v > vThMant << 6``; this neuron spikes if ``u >= theta``, so the
        mantissa is one unit below theta (exact while ``v`` stays on the 64-grid).
        """
        return int(theta_mant) - 1

    def fixed_reset(self, v: torch.Tensor, z: torch.Tensor, theta_v: int) -> torch.Tensor:
        """The integer reset of ``v`` after spikes ``z``; ``theta_v`` is theta in ``v`` units
        (``theta_mant << 6``). Must be exact integer arithmetic in ``v``'s dtype."""
        raise NotImplementedError

    def lava_threshold(self) -> float:
        """Lava's float ``vth`` (it spikes if ``v > vth``): the float just below theta."""
        return float(np.nextafter(self.p.theta, -np.inf))

    def lava_process(self, theta: float | int, **common: Any) -> Any:
        """The Lava neuron process: ``common`` holds shape, du, dv, vth, bias and the reset
        interval/offset; ``theta`` is theta in the process's units (float, or the integer
        mantissa in fixed point). The default is Lava's own CUBA ``LIFReset``."""
        from lava.proc.lif.process import LIFReset

        return LIFReset(**common)

    def netx_problem(self) -> str | None:
        """Why NetX's CUBA neuron (hard reset to 0) cannot express this neuron, or ``None``."""
        return None

    # -- NIR (snnsec.interop.nir) ---------------------------------------------------------------
    def nir_problem(self) -> str | None:
        """Why a NIR neuron (which resets to ``v_reset``) cannot express this neuron, or ``None``."""
        return None

    def to_nir(self, shape: tuple[int, ...], where: str = "neuron") -> Any:
        r"""This layer as a NIR node, exact under forward Euler with ``dt = 1``.

        IF (λ = 1): ``nir.IF(r=1, v_threshold=θ, v_reset=0)``, :math:`v \leftarrow v + I`.
        LIF (λ < 1): ``nir.LIF(tau=1/(1-λ), r=tau, v_leak=0, v_threshold=θ, v_reset=0)``:
        :math:`v \leftarrow v + (1/\tau)(-v + \tau I) = λv + I`. NIR fires on ``v > θ``, this
        neuron on ``u ≥ θ``: they differ only when a membrane equals θ exactly.
        """
        import nir

        problem = self.nir_problem()
        if problem is not None:
            raise InputError(f"{where}: {problem}")
        ones, zeros = np.ones(shape), np.zeros(shape)
        if self.p.leak == 1.0:
            return nir.IF(r=ones, v_threshold=self.p.theta * ones, v_reset=zeros)
        tau = 1.0 / (1.0 - self.p.leak)
        return nir.LIF(tau=tau * ones, r=tau * ones, v_leak=zeros, v_threshold=self.p.theta * ones, v_reset=zeros)

    @classmethod
    def from_nir(cls, name: str, node: Any, dt: float = 1.0, convention: str = "nir") -> tuple[NeuronParameters, float, float]:
        """A NIR ``IF`` / ``LIF`` / ``CubaLIF`` node as ``(parameters, input gain, constant input current)``.

        Forward Euler at ``dt``: a LIF with time constant τ, resistance R and leak voltage
        ``v_leak`` is this neuron with λ = 1 - dt/τ whose input current is ``(dt/τ)·R·I +
        (dt/τ)·v_leak``. ``convention="norse"`` reads Norse 1.1's ``tau = dt/τ⁻¹`` (factor dt²/tau).
        ``CubaLIF`` maps only without synaptic memory (dt = tau_syn). The parameters name this
        class's reset, so call it on a type whose reset is NIR's (to ``v_reset = 0``).
        """
        kind = type(node).__name__

        def uniform(field: str, value: Any) -> float:
            arr = np.asarray(value, dtype=np.float64)
            if arr.size == 0:
                raise InputError(f"node {name!r} ({kind}): parameter {field} is empty")
            lo, hi = float(arr.min()), float(arr.max())
            if lo != hi:
                raise InputError(f"node {name!r} ({kind}): {field} differs between neurons ({lo:g}..{hi:g}); "
                                 "an snnsec layer has one neuron parameter set")
            return lo

        theta = uniform("v_threshold", node.v_threshold)
        v_reset = uniform("v_reset", node.v_reset if node.v_reset is not None else 0.0)
        if v_reset != 0.0:
            raise InputError(f"node {name!r} ({kind}): v_reset = {v_reset:g}; snnsec's hard reset is to 0")
        if theta <= 0:
            raise InputError(f"node {name!r} ({kind}): v_threshold = {theta:g}; snnsec needs a positive threshold")
        r = uniform("r", node.r)
        if kind == "IF":
            return NeuronParameters(leak=1.0, theta=theta, reset=cls.name), r, 0.0
        tau = uniform("tau" if kind == "LIF" else "tau_mem", node.tau if kind == "LIF" else node.tau_mem)
        v_leak = uniform("v_leak", node.v_leak)
        if tau <= 0:
            raise InputError(f"node {name!r} ({kind}): time constant {tau:g} must be positive")
        factor = dt * dt / tau if convention == "norse" else dt / tau
        gain = factor * r
        if kind == "CubaLIF":
            tau_syn = uniform("tau_syn", node.tau_syn)
            syn = dt * dt / tau_syn if convention == "norse" else dt / tau_syn
            if not np.isclose(syn, 1.0, rtol=1e-9, atol=0.0):
                raise InputError(
                    f"node {name!r} (CubaLIF): its synaptic current has memory (dt/tau_syn = {syn:g}); snnsec's neuron "
                    "has one state variable, so only dt = tau_syn (I = w_in * S each step) maps")
            gain *= uniform("w_in", node.w_in)
        leak = 1.0 - factor
        if not 0.0 < leak <= 1.0:
            raise InputError(f"node {name!r} ({kind}): dt/tau = {factor:g} gives leak {leak:g} outside (0, 1]; "
                             "choose dt below tau")
        return NeuronParameters(leak=leak, theta=theta, reset=cls.name), gain, factor * v_leak


N = TypeVar("N", bound=type[NeuronModel])

NEURONS: dict[str, type[NeuronModel]] = {}
"""Neuron types by name (the ``reset`` field of :class:`NeuronParameters`)."""


def _owner(cls: type, name: str) -> type | None:
    """The class in ``cls``'s MRO whose body defines ``name``."""
    return next((c for c in cls.__mro__ if name in vars(c)), None)


def register_neuron(cls: N) -> N:
    """Class decorator: make a neuron type available under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty name")
    NEURONS[cls.name] = cls
    return cls


def neuron_model(p: NeuronParameters) -> NeuronModel:
    """The neuron model that ``p`` names (``p.reset``)."""
    if p.reset not in NEURONS:
        raise unknown_choice("neuron reset", p.reset, NEURONS)
    return NEURONS[p.reset](p)
