r"""The four role interfaces: :class:`Energy`, :class:`Sampler`, :class:`Initializer`, :class:`Objective`.

Conventions used everywhere in ebmcore (documented once, here):

* Shapes. ``B`` is the batch (number of samples or chains), ``event_shape`` the shape of one sample:
  ``(D,)`` for vectors, ``(C, H, W)`` for images. A batch of states is ``(B, *event_shape)``.
* Energy. ``E(x | cond) = -log p(x | cond) + const``: low energy = high density. An energy returns one
  scalar per sample, shape ``(B,)``.
* Conditions travel as one mapping ``cond`` of keyword tensors, each with leading dimension ``B``:
  ``t`` (float, time or noise level, shape ``(B,)``) and ``y`` (long class label, shape ``(B,)``, with
  :data:`NULL_LABEL` meaning "no label", the convention for classifier-free guidance). Components ignore
  keys they do not use only if they declare so; an energy receiving a condition it cannot use raises.
* Device and dtype. A component never creates a tensor without the device and dtype of its inputs (or of
  its own parameters/buffers). Samples come back on the device and dtype of the starting states.
* Randomness. Components draw from torch's global generators, which the trainer seeds and checkpoints, so
  seeds control every draw and a resumed run continues the same trajectory.
* Train/eval mode. Sampling runs inside :func:`sampling_mode`, which puts the energy in eval mode and
  freezes its parameters (spectral norm's power iteration must not run during MCMC). Negatives come back
  detached unless an estimator documents otherwise.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import torch
from torch import Tensor, nn

__all__ = [
    "NULL_LABEL",
    "Batch",
    "Cond",
    "DataLevelEnergy",
    "DensityInitializer",
    "Energy",
    "EnergyFn",
    "Initializer",
    "LatentInitializer",
    "Objective",
    "ObjectiveOutput",
    "SampleResult",
    "Sampler",
    "StateInitializer",
    "TiltedEnergy",
    "energy_and_grad",
    "sampling_mode",
]

#: Class label meaning "unconditional" (classifier-free guidance's null label).
NULL_LABEL = -1

Cond = Mapping[str, Tensor]


class EnergyFn(Protocol):
    """Anything a sampler can run on: ``(x: (B, *event_shape), **cond) -> (B,)``.

    A registered :class:`Energy`, a tethered recovery energy, a latent posterior or a sum of energies all
    qualify; samplers never require an :class:`Energy` instance.

    Examples:
        >>> import torch
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> def quadratic(x):  # a plain function is an EnergyFn: E(x) = |x|^2 / 2
        ...     return 0.5 * x.pow(2).sum(dim=1)
        >>> out = LangevinSampler(step_size=0.1, n_steps=5, noise_scale=0.0).sample(quadratic, torch.ones(4, 2))
        >>> torch.allclose(out.x, torch.full((4, 2), 0.9 ** 5))  # each step shrinks x by 1 - step_size
        True
    """

    def __call__(self, x: Tensor, **cond: Tensor) -> Tensor: ...


def energy_and_grad(
    energy: EnergyFn, x: Tensor, cond: Cond | None = None, *, create_graph: bool = False
) -> tuple[Tensor, Tensor]:
    """Energy and its input gradient in one pass.

    Arguments:
        energy: any energy callable.
        x: states, shape ``(B, *event_shape)``.
        cond: conditions passed to ``energy`` as keywords.
        create_graph: keep the graph of ``∇x E`` so a loss can differentiate through it (VAPO, score
            matching). Without it both outputs are detached.

    Returns:
        ``(E, ∇x E)`` with shapes ``(B,)`` and ``(B, *event_shape)``.

    Examples:
        >>> import torch
        >>> from ebmcore import energy_and_grad
        >>> x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> e, grad = energy_and_grad(lambda x: 0.5 * x.pow(2).sum(dim=1), x)  # grad of |x|^2 / 2 is x
        >>> e, torch.equal(grad, x), e.requires_grad
        (tensor([ 2.5000, 12.5000]), True, False)
        >>> energy_and_grad(lambda x: x.sum(), x)  # not one energy per sample
        Traceback (most recent call last):
        ...
        ValueError: an energy must return shape (B,) = (2,), got ()
    """
    cond = cond or {}
    with torch.enable_grad():
        if create_graph:
            x_in = x if x.requires_grad else x.detach().requires_grad_(True)
        else:
            x_in = x.detach().requires_grad_(True)
        e = energy(x_in, **cond)
        if e.shape != x.shape[:1]:
            raise ValueError(f"an energy must return shape (B,) = {tuple(x.shape[:1])}, got {tuple(e.shape)}")
        (grad,) = torch.autograd.grad(e.sum(), x_in, create_graph=create_graph)
    if create_graph:
        return e, grad
    return e.detach(), grad


@contextlib.contextmanager
def sampling_mode(*modules: nn.Module | None) -> Iterator[None]:
    """Eval mode, frozen parameters and full precision for the duration of a sampling run.

    Freezing keeps MCMC from building graphs through the weights (memory) and keeps spectral norm's power
    iteration and batch-norm statistics from changing while chains run. Autocast is switched off, so
    Metropolis-Hastings ratios are computed from full-precision energies. Energy wrappers (a tethered or
    guided energy) should be ``nn.Module`` objects holding the wrapped energy, so that this reaches it.

    Arguments:
        *modules: the modules to freeze (energy, initializer, ...); ``None`` entries are skipped.

    Returns:
        A context manager; on exit every module's train/eval mode and every parameter's ``requires_grad``
        are restored.

    Examples:
        >>> import torch
        >>> from ebmcore import sampling_mode
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Dropout(0.5))
        >>> with sampling_mode(net, None):
        ...     print(net.training, any(p.requires_grad for p in net.parameters()))
        False False
        >>> net.training, all(p.requires_grad for p in net.parameters())
        (True, True)
    """
    present = [m for m in modules if m is not None]
    modes = [m.training for m in present]
    flags = [[p.requires_grad for p in m.parameters()] for m in present]
    try:
        for m in present:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        with contextlib.ExitStack() as stack:
            for device_type in ("cuda", "cpu"):
                if torch.is_autocast_enabled(device_type):
                    stack.enter_context(torch.autocast(device_type, enabled=False))
            yield
    finally:
        for m, mode, fl in zip(present, modes, flags):
            m.train(mode)
            for p, f in zip(m.parameters(), fl):
                p.requires_grad_(f)


class Energy(nn.Module, abc.ABC):
    r"""An energy :math:`E_\theta(x \mid \text{cond})`, one scalar per sample.

    Implementations set ``event_shape`` and ``conditions`` (the condition keys they accept) in ``__init__``
    and implement :meth:`forward`.

    Arguments (of ``forward``):
        x: states, shape ``(B, *event_shape)``.
        **cond: conditions named in ``conditions`` (``t``: ``(B,)`` float; ``y``: ``(B,)`` long).

    Returns:
        Energies, shape ``(B,)``, dtype and device of ``x``.

    Examples:
        >>> import torch
        >>> from ebmcore import Energy
        >>> class Quadratic(Energy):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.event_shape = (2,)
        ...         self.conditions = frozenset()
        ...     def forward(self, x, **cond):
        ...         self.check_cond(cond)
        ...         return 0.5 * x.pow(2).sum(dim=1)
        >>> energy = Quadratic()
        >>> energy(torch.ones(3, 2))
        tensor([1., 1., 1.])
        >>> energy(torch.ones(3, 2), y=torch.zeros(3, dtype=torch.long))
        Traceback (most recent call last):
        ...
        TypeError: Quadratic does not accept condition(s) ['y']; it accepts none
    """

    event_shape: tuple[int, ...]
    conditions: frozenset[str] = frozenset()

    @abc.abstractmethod
    def forward(self, x: Tensor, **cond: Tensor) -> Tensor: ...

    def check_cond(self, cond: Mapping[str, Any]) -> None:
        """Raise a clear error for conditions this energy cannot use."""
        unknown = set(cond) - set(self.conditions)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} does not accept condition(s) {sorted(unknown)}; "
                f"it accepts {sorted(self.conditions) or 'none'}"
            )


@attrs.frozen
class SampleResult:
    """What a sampler returns.

    Attributes:
        x: samples, shape ``(B, *event_shape)``, detached.
        stats: scalar statistics (``acceptance_rate``, ``step_size``, ...) as tensors or floats; tensors
            stay on the device (no host sync inside the sampler).
        n_energy_evals: energy evaluations per chain (forward passes).
        n_grad_evals: input-gradient evaluations per chain (forward + backward passes).
        log_weights: ``(B,)`` unnormalised log importance weights when the samples are weighted
            (sampling-importance-resampling, SNIS), else ``None`` (equally weighted).

    Examples:
        >>> import torch
        >>> from ebmcore import SampleResult
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> out = LangevinSampler(n_steps=3).sample(lambda x: 0.5 * x.pow(2).sum(dim=1), torch.zeros(4, 2))
        >>> isinstance(out, SampleResult), tuple(out.x.shape), out.x.requires_grad
        (True, (4, 2), False)
        >>> out.n_energy_evals, out.n_grad_evals, out.stats["step_size"], out.log_weights
        (3, 3, 0.01, None)
    """

    x: Tensor
    stats: Mapping[str, Tensor | float] = attrs.field(factory=dict)
    n_energy_evals: int = 0
    n_grad_evals: int = 0
    log_weights: Tensor | None = None


class Initializer(nn.Module, abc.ABC):
    """Produces starting states; may be learnable (a generator, a flow, a per-level network).

    Implementations set ``event_shape`` and implement :meth:`init`. Stateful initializers (replay
    buffers) override :meth:`observe` to receive the refined states of the batch last drawn.

    Examples:
        >>> import torch
        >>> from ebmcore import Initializer
        >>> class Zeros(Initializer):
        ...     def __init__(self, event_shape):
        ...         super().__init__()
        ...         self.event_shape = event_shape
        ...     def init(self, n, cond=None):
        ...         return torch.zeros(n, *self.event_shape)
        >>> init = Zeros((1, 4, 4))
        >>> tuple(init.init(3).shape)
        (3, 1, 4, 4)
        >>> init.observe(torch.ones(3, 1, 4, 4))  # the default ignores refined states
    """

    event_shape: tuple[int, ...]

    @abc.abstractmethod
    def init(self, n: int, cond: Cond | None = None) -> Tensor:
        """Return ``n`` starting states, shape ``(n, *event_shape)``, on the initializer's device/dtype."""

    def observe(self, x: Tensor) -> None:  # noqa: B027 - deliberately a no-op default
        """Receive the refined states ``(n, *event_shape)`` for the batch last returned by :meth:`init`."""


# --- optional initializer capabilities ---------------------------------------------------------------
# Samplers that need more than starting states test for these with isinstance() (they are runtime
# checkable), never for another plugin's concrete class.


@runtime_checkable
class DensityInitializer(Protocol):
    """An initializer with a tractable density (a normalizing flow): NF-MLE's independence proposals,
    importance weights, flow-based density estimation.

    ``log_prob(x, cond)``: ``(B, *event_shape) -> (B,)`` log-density.
    ``sample_with_log_prob(n, cond)``: reparameterised samples ``(n, *event_shape)`` and their log-density
    ``(n,)`` in one pass.

    Examples:
        >>> import torch
        >>> from ebmcore import DensityInitializer
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> init = GaussianInitializer((2,))
        >>> isinstance(init, DensityInitializer)  # samplers test for the capability, not a class
        True
        >>> x, log_q = init.sample_with_log_prob(5)
        >>> tuple(x.shape), tuple(log_q.shape), torch.allclose(log_q, init.log_prob(x))
        ((5, 2), (5,), True)
    """

    def log_prob(self, x: Tensor, cond: Cond | None = None) -> Tensor: ...

    def sample_with_log_prob(self, n: int, cond: Cond | None = None) -> tuple[Tensor, Tensor]: ...


class TiltedEnergy(nn.Module):
    r"""The energy of a density tilted by an EBM: :math:`E(x) - \log q(x)`, ``(B, *event_shape) -> (B,)``.

    The model :math:`p(x) \propto q(x)\,e^{-E(x)}` of NF-MLE's flow-tilted variant and of a GEBM with a density
    base. A module holding references to the energy and the :class:`DensityInitializer` (so
    :func:`sampling_mode` on it reaches both); objectives keep it outside their own sub-modules (e.g. in
    :class:`Parts`), so its weights are saved once, with the energy and the density. Unconditional.

    Arguments:
        energy: the EBM's energy :math:`E`, ``(B, *event_shape) -> (B,)``.
        density: the base :math:`q`, a :class:`DensityInitializer` (its ``log_prob`` is used).

    Examples:
        >>> import torch
        >>> from ebmcore import TiltedEnergy
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> energy = lambda x: x.sum(dim=1)
        >>> base = GaussianInitializer((2,))
        >>> tilted = TiltedEnergy(energy, base)
        >>> x = torch.randn(4, 2)
        >>> torch.allclose(tilted(x), energy(x) - base.log_prob(x))
        True
    """

    def __init__(self, energy: Energy | EnergyFn, density: DensityInitializer) -> None:
        super().__init__()
        self.energy = energy
        self.density = density
        self.event_shape = getattr(energy, "event_shape", None)
        self.conditions: frozenset[str] = frozenset()

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        if cond:
            raise TypeError(f"a tilted energy is unconditional; got condition(s) {sorted(cond)}")
        return self.energy(x) - self.density.log_prob(x)


class DataLevelEnergy(nn.Module):
    r"""A time-conditioned energy that defaults to its data level: :math:`E(x, t_	ext{data})` when no ``t``.

    Diffusion-style methods (CDRL, DCD's time-dependent mode) train one energy over noise levels
    :math:`t`, with the data at :math:`t = 0`. Their objectives return this from
    :meth:`Objective.model_energy`, so evaluation and pictures, which call the model's energy without
    conditions, see the data level, while samplers that walk the levels (and pass ``t`` themselves) reach
    every level: ``conditions`` are the wrapped energy's. An energy whose data level is not a fixed ``t``
    (VAPO's read-out) needs no wrapper. Held as a module, so :func:`sampling_mode` on it reaches the energy.

    Arguments:
        energy: the time-conditioned energy, ``(B, *event_shape), t: (B,) -> (B,)``.
        t_data: the data level's ``t``.

    Examples:
        >>> import torch
        >>> from ebmcore import DataLevelEnergy
        >>> energy = lambda x, t: x.pow(2).sum(1) * (1 + t)
        >>> model = DataLevelEnergy(energy, t_data=0.0)
        >>> x = torch.ones(3, 2)
        >>> model(x).tolist(), model(x, t=torch.ones(3)).tolist()  # the data level, or the level asked for
        ([2.0, 2.0, 2.0], [4.0, 4.0, 4.0])
    """

    def __init__(self, energy: Energy | EnergyFn, t_data: float = 0.0) -> None:
        super().__init__()
        self.energy = energy
        self.t_data = float(t_data)
        self.event_shape = getattr(energy, "event_shape", None)
        self.conditions: frozenset[str] = frozenset(getattr(energy, "conditions", ("t",)))

    def forward(self, x: Tensor, **cond: Tensor) -> Tensor:
        if "t" not in cond:
            cond = {**cond, "t": x.new_full((x.shape[0],), self.t_data)}
        return self.energy(x, **cond)


@runtime_checkable
class LatentInitializer(Protocol):
    """An initializer that is a generator ``x = G(z)`` with a standard-normal latent (GEBM's base), so
    samplers can run MCMC in latent space.

    ``latent_shape``: shape of one latent ``z``. ``sample_latent(n, cond)``: ``(n, *latent_shape)``.
    ``decode(z, cond)``: ``(n, *latent_shape) -> (n, *event_shape)``, differentiable in ``z``.

    Examples:
        >>> import torch
        >>> from ebmcore import Initializer, LatentInitializer
        >>> class LinearGenerator(Initializer):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.event_shape, self.latent_shape = (2,), (1,)
        ...         self.net = torch.nn.Linear(1, 2)
        ...     def sample_latent(self, n, cond=None):
        ...         return torch.randn(n, *self.latent_shape)
        ...     def decode(self, z, cond=None):
        ...         return self.net(z)
        ...     def init(self, n, cond=None):
        ...         return self.decode(self.sample_latent(n, cond), cond)
        >>> gen = LinearGenerator()
        >>> isinstance(gen, LatentInitializer), tuple(gen.decode(gen.sample_latent(3)).shape)
        (True, (3, 2))
    """

    latent_shape: tuple[int, ...]

    def sample_latent(self, n: int, cond: Cond | None = None) -> Tensor: ...

    def decode(self, z: Tensor, cond: Cond | None = None) -> Tensor: ...


@runtime_checkable
class StateInitializer(Protocol):
    """An initializer that maps given states to starting states (CDRL's per-level initializer maps the
    sample at one noise level to the start of the next): ``init_from(x, cond) -> (B, *event_shape)``.

    Examples:
        >>> import torch
        >>> from ebmcore import StateInitializer
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> class Shrink:
        ...     def init_from(self, x, cond=None):
        ...         return 0.5 * x
        >>> isinstance(Shrink(), StateInitializer), isinstance(GaussianInitializer((2,)), StateInitializer)
        (True, False)
        >>> Shrink().init_from(torch.ones(2, 2))
        tensor([[0.5000, 0.5000],
                [0.5000, 0.5000]])
    """

    def init_from(self, x: Tensor, cond: Cond | None = None) -> Tensor: ...


class Sampler(nn.Module, abc.ABC):
    """Moves a batch of states under an energy callable.

    A sampler is an ``nn.Module`` so that adapted state (a step size tuned to a target acceptance rate,
    persistent chains) is saved in checkpoints with everything else. Samplers adapt such state only in
    train mode (``self.training``); generation runs them in eval mode, so drawing samples for a picture
    or an evaluation never changes training.

    Examples:
        >>> import torch
        >>> from ebmcore import Sampler, SampleResult, energy_and_grad
        >>> from ebmcore.components.initializers import GaussianInitializer
        >>> class GradientDescent(Sampler):
        ...     def __init__(self, step_size, n_steps):
        ...         super().__init__()
        ...         self.step_size, self.n_steps = step_size, n_steps
        ...     def sample(self, energy, x0, cond=None):
        ...         x = x0.detach()
        ...         for _ in range(self.n_steps):
        ...             _, grad = energy_and_grad(energy, x, cond)
        ...             x = x - self.step_size * grad
        ...         return SampleResult(x, n_energy_evals=self.n_steps, n_grad_evals=self.n_steps)
        >>> quadratic = lambda x: 0.5 * x.pow(2).sum(dim=1)
        >>> sampler = GradientDescent(step_size=0.5, n_steps=2)
        >>> sampler.sample(quadratic, torch.ones(2, 2)).x
        tensor([[0.2500, 0.2500],
                [0.2500, 0.2500]])
        >>> out = sampler.generate(quadratic, GaussianInitializer((2,)), n=5)  # initializer, then sampler
        >>> tuple(out.x.shape), out.n_grad_evals
        ((5, 2), 2)
    """

    @abc.abstractmethod
    def sample(self, energy: EnergyFn, x0: Tensor, cond: Cond | None = None) -> SampleResult:
        """Run the chains from ``x0`` (``(B, *event_shape)``) and return the final states."""

    def generate(
        self, energy: EnergyFn, initializer: Initializer, n: int, cond: Cond | None = None
    ) -> SampleResult:
        """Generation = initializer, then sampler. Samplers that interleave the two override this."""
        return self.sample(energy, initializer.init(n, cond), cond)

    def compile_step(self) -> None:
        """Opt-in ``torch.compile`` of the sampler's step (``RunConfig.compile_sampler``).

        Samplers that offer it override this; the compiled chain must match the eager one within
        floating-point tolerance for the same seed. The default raises :class:`NotImplementedError`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no compilable step")


@attrs.frozen
class Batch:
    """A data batch: ``x`` of shape ``(B, *event_shape)`` and optional labels ``y`` of shape ``(B,)``.

    Attributes:
        x: data points, ``(B, *event_shape)``.
        y: long class labels, ``(B,)``, or ``None``.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch
        >>> batch = Batch(torch.zeros(4, 2), y=torch.tensor([0, 1, 1, 0]))
        >>> batch.cond
        {'y': tensor([0, 1, 1, 0])}
        >>> from ebmcore.components.energies import MLPEnergy
        >>> conditional, unconditional = MLPEnergy((2,), hidden=(16,), num_classes=2), MLPEnergy((2,), hidden=(16,))
        >>> list(batch.cond_for(conditional)), batch.cond_for(unconditional)  # labels it cannot use are dropped
        (['y'], {})
        >>> tuple(unconditional(batch.x, **batch.cond_for(unconditional)).shape)
        (4,)
    """

    x: Tensor
    y: Tensor | None = None

    @property
    def cond(self) -> dict[str, Tensor]:
        """All conditions the data carries (``{"y": labels}`` or ``{}``)."""
        return {} if self.y is None else {"y": self.y}

    def cond_for(self, energy: object) -> dict[str, Tensor]:
        """The conditions ``energy`` accepts (its ``conditions``); all of them for a plain callable.

        Labelled data can train an unconditional energy: labels it does not accept are dropped.
        """
        accepted = getattr(energy, "conditions", None)
        cond = self.cond
        return cond if accepted is None else {k: v for k, v in cond.items() if k in accepted}


@attrs.frozen
class ObjectiveOutput:
    """What an objective returns for one training step.

    Attributes:
        losses: one scalar loss per trainable group stepped now (group name -> loss). A group absent
            from this mapping is not stepped (alternating schemes such as GEBM's n_critic).
        metrics: scalar diagnostics, detached (``energy/pos``, ``energy/neg``, acceptance rates, ...).

    Examples:
        >>> import torch
        >>> from ebmcore import ObjectiveOutput
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> e_pos, e_neg = (w * torch.ones(4, 2)).sum(dim=1), (w * torch.zeros(4, 2)).sum(dim=1)
        >>> out = ObjectiveOutput({"energy": e_pos.mean() - e_neg.mean()}, {"energy/pos": e_pos.mean().detach()})
        >>> sorted(out.losses), out.metrics["energy/pos"].item()
        (['energy'], 2.0)
        >>> out.losses["energy"].backward()  # the trainer steps the "energy" group on this loss
        >>> w.grad
        tensor([1., 1.])
    """

    losses: Mapping[str, Tensor]
    metrics: Mapping[str, Tensor] = attrs.field(factory=dict)


class Objective(nn.Module, abc.ABC):
    """Turns a data batch plus the other parts into one loss per trainable group, plus diagnostics.

    An objective holds references to the parts it uses (see :class:`Parts`) without registering them as
    sub-modules, so each part is saved once in checkpoints. Its own parameters (for example GEBM's
    log-normaliser) are ordinary sub-modules/parameters of the objective.

    Examples:
        >>> import torch
        >>> from ebmcore import Batch, Objective, ObjectiveOutput, Parts
        >>> class MeanEnergy(Objective):
        ...     def __init__(self, energy):
        ...         super().__init__()
        ...         self.parts = Parts(energy)  # a reference, not a sub-module
        ...     def forward(self, batch, step):
        ...         loss = self.parts.energy(batch.x).mean()
        ...         return ObjectiveOutput({"energy": loss}, {"energy/pos": loss.detach()})
        ...     def parameter_groups(self):
        ...         return {"energy": list(self.parts.energy.parameters())}
        >>> energy = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Flatten(0))  # (B, 2) -> (B,)
        >>> objective = MeanEnergy(energy)
        >>> out = objective(Batch(torch.randn(8, 2)), step=0)
        >>> sorted(out.losses), len(objective.parameter_groups()["energy"]), len(list(objective.parameters()))
        (['energy'], 2, 0)
        >>> objective.model_energy() is None, objective.model_has_density  # the model is exp(-energy)
        (True, True)
    """

    @abc.abstractmethod
    def forward(self, batch: Batch, step: int) -> ObjectiveOutput: ...

    @abc.abstractmethod
    def parameter_groups(self) -> Mapping[str, Sequence[nn.Parameter]]:
        """Trainable groups, by name (``energy``, ``initializer``, ``base``, ``flow``...)."""

    #: ``False`` when the trained model has no density on data space (GEBM with an implicit generator base:
    #: the energy reweights a base that may live on a manifold); evaluation then skips density metrics
    #: (grid NLL, mode masses) instead of reporting those of ``exp(-E)`` alone.
    model_has_density: bool = True

    def model_energy(self) -> EnergyFn | None:
        r"""The energy of the density this objective trains, when that is not the run's energy alone.

        ``None`` (the default) means the run's :class:`Energy`. An objective whose model combines parts
        returns a callable ``(B, *event_shape) -> (B,)``: NF-MLE's flow-tilted model
        :math:`p \propto q_\alpha e^{-E_\theta}` returns :math:`E_\theta - \log q_\alpha`. Generation,
        evaluation (grid likelihoods, mode weights) and plots use it, so they judge the trained model.
        """
        return None


@attrs.frozen(eq=False)
class Parts:
    """Non-owning references from an objective to the other roles (not registered as sub-modules).

    Attributes:
        energy: the run's energy (or any energy callable), ``(B, *event_shape) -> (B,)``.
        sampler: the sampler, or ``None`` for objectives that draw no negatives.
        initializer: the chains' initializer, or ``None``.

    Examples:
        >>> import torch
        >>> from ebmcore import Parts
        >>> from ebmcore.components.samplers import LangevinSampler
        >>> class Holder(torch.nn.Module):
        ...     def __init__(self, parts):
        ...         super().__init__()
        ...         self.parts = parts
        >>> energy = torch.nn.Linear(2, 1)
        >>> holder = Holder(Parts(energy, sampler=LangevinSampler()))
        >>> holder.parts.energy is energy, len(list(holder.parameters())), holder.parts.initializer
        (True, 0, None)
    """

    energy: Energy | EnergyFn
    sampler: Sampler | None = None
    initializer: Initializer | None = None


def module_device_dtype(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of a module's first floating parameter or buffer."""
    for t in [*module.parameters(), *module.buffers()]:
        if t.is_floating_point():
            return t.device, t.dtype
    raise ValueError(f"{type(module).__name__} has no floating parameter or buffer to take device/dtype from")


# A factory builds a component from its config and the build context (see ebmcore.build).
Factory = Callable[..., nn.Module]
