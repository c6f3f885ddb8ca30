"""The charged N-body system of EGNN's experiment 5.1, simulated for a whole batch at once.

Satorras, Hoogeboom & Welling ("E(n) Equivariant Graph Neural Networks", ICML 2021) extended
the charged-particle system of Kipf et al. ("Neural Relational Inference for Interacting
Systems", ICML 2018) to 3-D. Per trajectory: 5 particles with charges q = ±1 (probability 1/2
each), positions drawn N(0, 1) per coordinate, velocities of norm 0.5 in uniformly random
directions. The force on particle i is

    F_i = k sum_{j != i} q_i q_j (x_i - x_j) / |x_i - x_j|³      (k = 1: like charges repel),

each component clipped to ±0.1/Δt (close encounters would otherwise fling particles off), unit
masses. A box of half-width 5 reflects elastically, but only the initial positions (the
authors' simulator stopped applying it during the run; with N(0, 1) positions it rarely acts).
Integration is NRI's leapfrog with Δt = 0.001: one velocity kick from the initial positions,
then 4,999 drift-kick steps (x += Δt v, then v += Δt F(x)); every 100th step keeps the state
(positions, and the velocities from before that step's kick), so frame k is step 100 (k + 1),
49 frames from steps 100 to 4,900. EGNN's task maps frame 30 to frame 40's positions.

Every trajectory of a batch steps together as ``[batch, particles, 3]`` tensors (float64):
7,000 trajectories take seconds.

    >>> data = trajectories(4, seed=0, system=ChargedSystem(steps=500, every=100))
    >>> tuple(data["positions"].shape), tuple(data["charges"].shape)
    ((4, 4, 5, 3), (4, 5))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ChargedSystem:
    """The simulator's settings; the defaults are the EGNN authors' (module docstring)."""

    particles: int = 5
    box: float = 5.0
    position_std: float = 1.0
    speed: float = 0.5
    strength: float = 1.0
    dt: float = 1e-3
    max_force: float | None = 0.1 / 1e-3  # per component; None: no clipping
    steps: int = 5000
    every: int = 100

    @property
    def frames(self) -> int:
        """Kept frames: steps ``every, 2 every, ...`` below ``steps``."""
        return self.steps // self.every - 1


def initial_state(
    count: int, system: ChargedSystem, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions and velocities ``[count, particles, 3]`` (reflected into the box) and charges
    ``[count, particles]``, float64."""
    shape = (count, system.particles, 3)
    sign = torch.randint(0, 2, shape[:2], generator=generator, dtype=torch.float64)
    charges = 2.0 * sign - 1.0
    positions = system.position_std * torch.randn(shape, generator=generator, dtype=torch.float64)
    directions = torch.randn(shape, generator=generator, dtype=torch.float64)
    velocities = system.speed * directions / directions.norm(dim=-1, keepdim=True)
    positions, velocities = reflect(positions, velocities, system.box)
    return positions, velocities, charges


def reflect(
    positions: torch.Tensor, velocities: torch.Tensor, box: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Elastic reflection at the walls ``±box``: a coordinate past a wall is mirrored back
    inside and its velocity component turned to point inwards (one bounce, as NRI's)."""
    over, under = positions > box, positions < -box
    positions = torch.where(over, 2 * box - positions, positions)
    positions = torch.where(under, -2 * box - positions, positions)
    velocities = torch.where(over, -velocities.abs(), velocities)
    velocities = torch.where(under, velocities.abs(), velocities)
    return positions, velocities


def _pairs(particles: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The pairs ``i < j`` as two index vectors."""
    first, second = torch.triu_indices(particles, particles, 1)
    return first, second


def _forces(
    x: torch.Tensor, coupling: torch.Tensor, pairs: tuple, max_force: float | None
) -> torch.Tensor:
    """:func:`forces` on the simulator's layout: ``x`` ``[particles, 3, batch]`` (the batch
    innermost, so every operation runs along long rows), ``coupling`` ``k q_i q_j``
    ``[pairs, 1, batch]``."""
    first, second = pairs
    difference = x[first] - x[second]  # x_i - x_j, [pairs, 3, batch]
    squared = difference.square().sum(dim=1, keepdim=True)
    on_first = difference.mul_(coupling / (squared * squared.sqrt()))
    # each pair pushes i by on_first and j by its reaction, summed in a fixed order per
    # trajectory (so the result does not depend on how many trajectories step together)
    force = torch.zeros_like(x).index_add_(0, first, on_first).index_add_(0, second, -on_first)
    return force if max_force is None else force.clamp_(-max_force, max_force)


def forces(positions: torch.Tensor, charges: torch.Tensor, system: ChargedSystem) -> torch.Tensor:
    """``F_i = k sum_j q_i q_j (x_i - x_j) / |x_i - x_j|³``, each component clipped to
    ``±max_force``: positions ``[batch, particles, 3]``, charges ``[batch, particles]``."""
    pairs = _pairs(positions.shape[1])
    coupling = system.strength * (charges[:, pairs[0]] * charges[:, pairs[1]]).T.unsqueeze(1)
    x = positions.permute(1, 2, 0).contiguous()
    return _forces(x, coupling, pairs, system.max_force).permute(2, 0, 1)


def energy(
    positions: torch.Tensor, velocities: torch.Tensor, charges: torch.Tensor, strength: float
) -> torch.Tensor:
    """Kinetic plus Coulomb energy ``sum_i |v_i|²/2 + k sum_{i<j} q_i q_j / |x_i - x_j|``
    (the potential of :func:`forces` without clipping), one per trajectory: ``[..., batch]``
    for positions and velocities ``[..., batch, particles, 3]``."""
    first, second = _pairs(positions.shape[-2])
    distance = (positions[..., first, :] - positions[..., second, :]).norm(dim=-1)
    potential = strength * (charges[..., first] * charges[..., second] / distance).sum(-1)
    return 0.5 * velocities.square().sum(dim=(-2, -1)) + potential


def simulate(
    positions: torch.Tensor,
    velocities: torch.Tensor,
    charges: torch.Tensor,
    system: ChargedSystem,
    chunk: int = 2000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """NRI's leapfrog from the given state (``[batch, particles, 3]``, charges ``[batch,
    particles]``): the kept frames' positions and velocities, ``[batch, frames, particles,
    3]`` each (module docstring). ``chunk`` trajectories step together (a size whose state
    stays in cache; the result does not depend on it, bit for bit)."""
    parts = [
        _simulate_chunk(positions[s : s + chunk], velocities[s : s + chunk],
                        charges[s : s + chunk], system)
        for s in range(0, len(positions), chunk)
    ]  # fmt: skip
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _simulate_chunk(
    positions: torch.Tensor, velocities: torch.Tensor, charges: torch.Tensor, system: ChargedSystem
) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = _pairs(positions.shape[1])
    coupling = system.strength * (charges[:, pairs[0]] * charges[:, pairs[1]]).T.unsqueeze(1)
    x = positions.permute(1, 2, 0).contiguous()  # [particles, 3, batch]
    v = velocities.permute(1, 2, 0).contiguous()
    kept_x = x.new_empty(system.frames, *x.shape)
    kept_v = torch.empty_like(kept_x)
    v.add_(_forces(x, coupling, pairs, system.max_force), alpha=system.dt)
    for step in range(1, system.steps):
        x.add_(v, alpha=system.dt)
        frame = step // system.every - 1
        if step % system.every == 0 and frame < system.frames:
            kept_x[frame], kept_v[frame] = x, v
        v.add_(_forces(x, coupling, pairs, system.max_force), alpha=system.dt)
    return kept_x.permute(3, 0, 1, 2), kept_v.permute(3, 0, 1, 2)


def trajectories(
    count: int, seed: int, system: ChargedSystem = ChargedSystem()
) -> dict[str, torch.Tensor]:
    """``count`` trajectories from ``seed``: ``positions`` and ``velocities``
    ``[count, frames, particles, 3]`` and ``charges`` ``[count, particles]``, float64."""
    generator = torch.Generator().manual_seed(seed)
    x, v, q = initial_state(count, system, generator)
    positions, velocities = simulate(x, v, q, system)
    return {"positions": positions, "velocities": velocities, "charges": q}
