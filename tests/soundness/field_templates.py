"""Operator templates on grids and manifolds (fields, spectra, group convolutions; Lorentz,
Poincaré and SPD values), as :mod:`spec_templates` writes them: each picks operands from the
pool and returns ``(expression, type)``, or None when the pool has none for it."""

from __future__ import annotations

from spec_grammar import Gen, Ty, scalars
from spec_templates import Made

# ---------------------------------------------------------------------------- fields


def _scalar_field(gen: Gen) -> tuple[str, Ty] | None:
    return gen.pick(lambda t: t.axis == gen.family.axis and set(t.atoms) == {"scalar"})


def spectral_conv(gen: Gen) -> Made:
    z = _scalar_field(gen)
    if z is None:
        return None
    if gen.family.info.get("grid_turns"):
        gen.tags.add("spectral_conv_rotgrid")
    modes = gen.integer(1, max(1, min(gen.family.grid) // 2))
    out = scalars(gen.integer(1, 3))
    return f"spectral_conv({z[0]}, {out.text()}, modes={modes})", out.on(gen.family.axis)


def fourier_layer(gen: Gen) -> Made:
    """``ifft(f(fft(z)))`` with ``f`` a map of the Fourier coefficients: the accepted ones
    (modReLU, per-mode weights, a complex channel matrix, sums) and, now and then, a map of
    the real and imaginary parts (`act`), which the typing rules must reject (GEO337)."""
    z = _scalar_field(gen)
    if z is None:
        return None
    modes = gen.integer(1, max(1, min(gen.family.grid) // 2))
    c = f"fft({z[0]}, modes={modes})"
    out = z[1]
    kind = gen.choice(("mod_act", "mode_filter", "mode_linear", "sum", "act"))
    if kind == "mod_act":
        c = f"mod_act({c}, {gen.choice(('relu', 'gelu', 'tanh'))})"
    elif kind == "mode_filter":
        c = f"mode_filter({c})"
    elif kind == "mode_linear":
        width = scalars(gen.integer(1, 3))
        out = width.on(gen.family.axis)
        c = f"mode_linear({c}, {width.text()})"
    elif kind == "sum":
        c = f"{c} - mode_filter({c})"
    else:
        gen.tags.add("fourier_parts")
        c = f"act({c}, relu)"
    return f"ifft({c})", out


def sfno_conv(gen: Gen) -> Made:
    z = _scalar_field(gen)
    if z is None:
        return None
    nlat = gen.family.grid[0]
    lmax = gen.integer(1, nlat)
    out = scalars(gen.integer(1, 3))
    filt = ""
    if gen.coin(0.2):
        gen.tags.add("sfno_degree_order")
        filt = ", filter=degree_order"
    if lmax > nlat // 2:
        gen.tags.add("sfno_high_lmax")
    return f"sfno_conv({z[0]}, {out.text()}, lmax={lmax}{filt})", out.on(gen.family.axis)


def sht_round_trip(gen: Gen) -> Made:
    z = _scalar_field(gen)
    if z is None:
        return None
    lmax = gen.integer(1, gen.family.grid[0])
    gen.tags.add("sht_projection")
    return f"isht(sht({z[0]}, lmax={lmax}))", z[1]


def lift_conv(gen: Gen) -> Made:
    z = _scalar_field(gen)
    if z is None:
        return None
    out = Ty(((gen.integer(1, 2), "regular"),))
    kernel = gen.choice([k for k in (1, 3) if k <= min(gen.family.grid)])
    return f"lift_conv({z[0]}, {out.text()}, kernel={kernel})", out.on(gen.family.axis)


def group_conv(gen: Gen) -> Made:
    z = gen.pick(lambda t: t.axis == gen.family.axis and set(t.atoms) == {"regular"})
    if z is None:
        return None
    out = Ty(((gen.integer(1, 2), "regular"),))
    kernel = gen.choice([k for k in (1, 3) if k <= min(gen.family.grid)])
    return f"group_conv({z[0]}, {out.text()}, kernel={kernel})", out.on(gen.family.axis)


def group_pool(gen: Gen) -> Made:
    z = gen.pick(lambda t: t.axis == gen.family.axis and set(t.atoms) == {"regular"})
    if z is None:
        return None
    reduce = gen.choice(("max", "mean"))
    return f"group_pool({z[0]}, reduce={reduce})", scalars(z[1].copies, gen.family.axis)


# ---------------------------------------------------------------------------- manifolds


def to_manifold(gen: Gen) -> Made:
    v = gen.pick(lambda t: set(t.atoms) == {"scalar"})
    if v is None:
        return None
    n = v[1].copies
    kind = gen.choice(("lorentz", "poincare", "unit"))
    if kind == "unit":
        return f"normalize({v[0]})", Ty(((1, f"unit({n})"),), v[1].axis)
    atom = f"lorentz({n}, k=1.0)" if kind == "lorentz" else f"poincare({n}, c=1.0)"
    return f"expmap0({v[0]}, manifold={atom})", Ty(((1, atom),), v[1].axis)


def _on(gen: Gen, kind: str):
    return gen.pick(lambda t: len(t.terms) == 1 and t.terms[0][1].startswith(kind + "("))


def manifold_layer(gen: Gen) -> Made:
    kind = gen.choice(("lorentz", "poincare"))
    x = _on(gen, kind)
    if x is None:
        return None
    out = gen.integer(1, 3)
    fn = gen.choice(("identity", "relu", "tanh"))
    if kind == "lorentz":
        return f"lorentz_linear({x[0]}, {out}, act={fn})", Ty(
            ((1, f"lorentz({out}, k=1.0)"),), x[1].axis
        )
    return f"mobius_linear({x[0]}, {out}, act={fn})", Ty(
        ((1, f"poincare({out}, c=1.0)"),), x[1].axis
    )


def manifold_readout(gen: Gen) -> Made:
    kind = gen.choice(("lorentz", "poincare"))
    x = _on(gen, kind)
    if x is None:
        return None
    if gen.coin(0.4):
        n = int(x[1].atoms[0].split("(")[1].split(",")[0])
        return f"logmap0({x[0]})", scalars(n, x[1].axis)
    classes = gen.integer(1, 3)
    return f"{kind}_mlr({x[0]}, {classes})", scalars(classes, x[1].axis)


def manifold_mix(gen: Gen) -> Made:
    """Möbius addition of two points of one ball, or a Lorentzian centroid (of a node's
    neighbours, or pooled over the axis)."""
    if gen.coin():
        a = _on(gen, "poincare")
        if a is None:
            return None
        b = gen.pick(lambda t: t.terms == a[1].terms and gen.axes_ok(t, a[1]))
        return f"mobius_add({a[0]}, {b[0]})", a[1].on(a[1].axis or b[1].axis)
    x = _on(gen, "lorentz")
    if x is None or x[1].axis != gen.family.axis:
        return None
    if gen.family.edges and gen.coin():
        return f"lorentz_centroid({x[0]}[src], over=edges, into={gen.family.axis})", x[1]
    return f"lorentz_centroid({x[0]}, over={gen.family.axis})", x[1].on(None)


def to_ball(gen: Gen) -> Made:
    """A Poincaré point from scalars (a field's points on a torus: Poincaré ResNet)."""
    v = gen.pick(lambda t: set(t.atoms) == {"scalar"})
    if v is None:
        return None
    atom = f"poincare({v[1].copies}, c={gen.choice(('1.0', '0.5'))})"
    return f"expmap0({v[0]}, manifold={atom})", Ty(((1, atom),), v[1].axis)


def poincare_grid_step(gen: Gen) -> Made:
    """Poincaré ResNet's layers on a field of points: a convolution, the midpoint batch norm,
    the gyromidpoint over the grid."""
    x = _on(gen, "poincare")
    if x is None or x[1].axis != gen.family.axis:
        return None
    atom = x[1].terms[0][1]
    c = atom.split("c=")[1].rstrip(")")
    choice = gen.integer(0, 2)
    if choice == 0:
        out = gen.integer(1, 3)
        kernel = gen.choice([k for k in (1, 3) if k <= min(gen.family.grid)])
        return f"poincare_conv({x[0]}, {out}, kernel={kernel})", Ty(
            ((1, f"poincare({out}, c={c})"),), x[1].axis
        )
    if choice == 1:
        bias = gen.choice(("true", "false"))
        return f"poincare_midpoint_batch_norm({x[0]}, bias={bias}, momentum=0.5)", x[1]
    return f"poincare_midpoint({x[0]}, over={gen.family.axis})", x[1].on(None)


BN_METRICS = ("airm", "log_euclidean", "gbw")


def spd_step(gen: Gen) -> Made:
    """SPDNet's congruence-equivariant maps and invariants (risky: ``bimap``)."""
    n = gen.family.n
    spd = gen.pick(lambda t: t.terms == ((1, f"spd({n})"),))
    sym = gen.pick(lambda t: t.terms == ((1, f"sym({n})"),))
    options = []
    if spd:
        options += [
            (f"reeig({spd[0]})", spd[1]),
            (f"logeig({spd[0]})", Ty(((1, f"sym({n})"),), spd[1].axis)),
            (f"eigvals({spd[0]})", scalars(n, spd[1].axis)),
            (f"bimap({spd[0]}, {max(1, n - 1)})", "bimap"),
            (f"spd_batch_norm({spd[0]}, metric={gen.choice(BN_METRICS)})", spd[1]),
            (f"spd_batch_norm({spd[0]}, bias=true)", "bn_bias"),
        ]
    if sym:
        options += [
            (f"expmap0({sym[0]}, manifold=spd({n}))", Ty(((1, f"spd({n})"),), sym[1].axis)),
            (f"eigvals({sym[0]})", scalars(n, sym[1].axis)),
            (f"norm({sym[0]})", scalars(1, sym[1].axis)),
        ]
    if not options:
        return None
    expr, ty = gen.choice(options)
    if ty == "bn_bias":  # a learned SPD bias: GEO417 under rotations
        gen.tags.add("bn_bias_rotations")
        ty = spd[1]
    if ty == "bimap":
        gen.tags.add("bimap_rotations")
        ty = Ty(((1, f"spd({max(1, n - 1)})"),), spd[1].axis)
    return expr, ty
