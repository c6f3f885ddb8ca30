"""The table of stable diagnostic codes and their long forms for ``geoc explain``.

Codes are stable: never renumber, only add (``GEO1xx`` syntax, ``GEO2xx`` names and imports,
``GEO3xx`` types, ``GEO4xx`` equivariance, ``GEO5xx`` backend and lowering, ``GEO6xx`` numeric
verification).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of the code table: a short title and the long form for ``geoc explain``."""

    title: str
    explanation: str
    runtime: bool = False  # raised by a compiled module's call as an InputError (GEO61x...)


def _code(title: str, explanation: str) -> CodeInfo:
    return CodeInfo(title, " ".join(explanation.split()))


def _input(title: str, explanation: str) -> CodeInfo:
    """A code of a compiled module's input check (``InputError``), not of the compiler."""
    return CodeInfo(title, " ".join(explanation.split()), runtime=True)


CODES: dict[str, CodeInfo] = {
    # --- GEO1xx: reading and parsing the source -------------------------------------------------
    "GEO100": _code(
        "unexpected token",
        """The parser met a token that cannot continue the construct it was reading. The message
        says what could come here instead. Common causes: a missing comma between arguments, a
        missing operator, or a keyword used as a name (`input`, `output`, `repeat`, `over`, `x`
        and friends are reserved at the start of a statement).""",
    ),
    "GEO101": _code(
        "unexpected character",
        """The source contains a character that is not part of the language: `.geo` uses ASCII
        names, numbers, strings in double quotes, the punctuation `( ) [ ] { } , : ; = + - *`,
        `->` and `#` comments.""",
    ),
    "GEO102": _code(
        "unterminated string",
        """A string literal opened with `"` has no closing `"` on the same line. Strings cannot
        span lines; escape a quote inside a string as `\\"`.""",
    ),
    "GEO103": _code(
        "unclosed bracket",
        """A `(`, `[` or `{` is never closed. The diagnostic points at the opening bracket; add
        the matching closing bracket where the construct ends.""",
    ),
    "GEO104": _code(
        "unmatched closing bracket",
        """A `)`, `]` or `}` closes nothing, or closes a bracket of another kind. Check that
        brackets are balanced and properly nested.""",
    ),
    "GEO105": _code(
        "incomplete feature type",
        """A feature type ended too early: `16 x` needs a representation after the `x`
        (`16 x scalar`, `8 x vector`, `4 x 1o`), and `over` needs an axis name (`over nodes`).""",
    ),
    "GEO106": _code(
        "missing operand",
        """An operator (`+`, `-`, `*`, `x`) has no right-hand side, or an `=` has no value. Write
        the missing operand, or remove the dangling operator.""",
    ),
    "GEO107": _code(
        "unexpected end of file",
        """The file ended in the middle of a construct, for example inside a call's argument
        list or a block's signature.""",
    ),
    "GEO108": _code(
        "nesting too deep",
        """Brackets or expressions are nested deeper than geoc accepts (a fixed limit that keeps
        the compiler's stack bounded). Bind intermediate results to names instead.""",
    ),
    "GEO110": _code(
        "source is not UTF-8",
        """`.geo` files are UTF-8 text. The file contains bytes that are not valid UTF-8, which
        usually means it is binary or saved in another encoding. Re-save it as UTF-8.""",
    ),
    "GEO111": _code(
        "empty spec",
        """The file contains no `import`, `block` or `model`: it is empty or holds only comments
        and blank lines. A spec needs at least one `model` (or `block`s to import).""",
    ),
    "GEO112": _code(
        "source too large",
        """The file is larger than geoc reads (the limit is in the message). Specs describe
        architectures, not data; split a generated spec into files joined by `import`.""",
    ),
    "GEO113": _code(
        "cannot read source",
        """The spec file does not exist, is a directory, or cannot be read. For a built-in spec,
        `geoc specs` lists the names you can use instead of a path.""",
    ),
    "GEO114": _code(
        "duplicate parameter or keyword",
        """The same name appears twice in one parameter list or as two keyword arguments of one
        call. Each name may be given once.""",
    ),
    "GEO115": _code(
        "positional argument after keyword argument",
        """In a call, positional arguments come first and keyword arguments (`name=value`) after
        them, as in Python.""",
    ),
    "GEO116": _code(
        "misplaced declaration",
        """`symmetry`, `domain`, `input` and `output` declare a model's interface: they belong
        directly in a `model` body. `return` belongs in a `block` body, as its last statement.""",
    ),
    "GEO117": _code(
        "name reserved by the generated code",
        """The compiled module is Python: each `input` becomes a keyword argument of its
        `forward`, and values name its parameters. An input may not be a Python keyword
        (`class`, `None`), `self`, a Python builtin (`type`, `len`), a name the generated code
        uses (`torch`, `inf`, `nan`, `device`, `rt`, `rt_*`), or an argument the domain adds
        (`edge_index`, `batch`, `num_graphs`). Values named like an attribute every module has
        (`training`, `forward`) get a trailing `_` in parameter names; two values whose names
        then coincide (`training` and `training_` in one block) are refused too. Rename the
        input or value.""",
    ),
    # --- GEO19x: the command line (arguments rather than source text) -------------------------
    "GEO190": _code(
        "malformed parameter override",
        """A `-p` option must read `NAME=VALUE`: a parameter name of the model, `=`, and a value
        written as in a `.geo` file (`-p hidden=128`, `-p cutoff=4.5`, `-p act=silu`). Give each
        name at most once.""",
    ),
    "GEO191": _code(
        "invalid command line",
        """The command line does not match what the command accepts: an unknown command or
        option, a missing argument, or a value outside the allowed choices. `geoc --help` lists
        the commands and `geoc COMMAND --help` the options of one.""",
    ),
    "GEO192": _code(
        "cannot write file",
        """geoc could not write a file it was asked to produce (for `geoc fmt`, the reformatted
        spec). The message gives the operating system's reason, e.g. a read-only directory or a
        full disk. The original file is left as it was.""",
    ),
    # --- GEO2xx: names, operators, groups, domains, imports -------------------------------------
    "GEO200": _code(
        "unknown name",
        """A name is used before anything binds it. Values are bound by `input`, by assignments
        (`h = ...`), by block parameters, and compile-time names by model or block parameters.
        Check the spelling and the order of statements (a value must be bound above its use).""",
    ),
    "GEO201": _code(
        "unknown operator or block",
        """A call names neither a built-in operator nor a `block` defined in this file or an
        imported one. `docs/language.md` lists the operators; blocks from other files need an
        `import`.""",
    ),
    "GEO202": _code(
        "unknown group",
        """A `symmetry` factor is not a known group, or has a bad size. Groups: `trivial`,
        `O(n)`, `SO(n)`, `E(n)`, `SE(n)`, `T(n)`, `Lorentz(n)`, `Sp(n)`, `C(n)`, `D(n)`, `S(n)`,
        `A(n)` (n an integer, 1 to 64) and `S(axis)` (permutations of a named axis), combined
        with `x`. At most one factor acts on channels: `Lorentz(3) x S(particles)` is fine,
        `O(3) x Lorentz(3)` is not.""",
    ),
    "GEO203": _code(
        "unknown axis",
        """A value is placed on (or reduced over) an index axis that the model's domain does not
        have. `set(axis)` has one axis; `graph(nodes)` and `pointcloud(nodes, ...)` have the
        node axis and `edges`.""",
    ),
    "GEO204": _code(
        "unknown or malformed domain",
        """The `domain` declaration is not one of `set(axis)`, `graph(nodes)`,
        `pointcloud(nodes, dim=3, edges=full | radius(r) | knn(k, tol=1e-4), cell=false)`, or
        its arguments are wrong (`knn`'s `tol` is a number with 0 ≤ tol < 1; `cell=true`, a
        periodic cell, needs `edges=radius(r)` and `dim=3`).""",
    ),
    "GEO205": _code(
        "import not found",
        """An `import` names a file that does not exist (relative to the importing file) and is
        not a built-in spec name.""",
    ),
    "GEO206": _code(
        "import leaves the spec folder",
        """An `import` path is absolute, or the file it names lies outside the folder of the
        spec being compiled (the root): through `..`, or through a symbolic link that points
        out. An import resolves relative to the importing file's folder; the result, with every
        symbolic link resolved, must lie inside the root, so a spec folder is self-contained and
        compiling a spec never reads a file outside it.""",
    ),
    "GEO207": _code(
        "import cycle",
        """Files import each other in a cycle. Move the shared blocks to a third file that both
        import.""",
    ),
    "GEO208": _code(
        "unknown parameter",
        """A `-p NAME=VALUE` override, or a keyword argument of a block call, names a parameter
        that does not exist.""",
    ),
    "GEO209": _code(
        "duplicate definition",
        """Two blocks or models share a name, or a model declares the same input or output
        twice.""",
    ),
    "GEO210": _code(
        "no model to compile",
        """The spec defines no `model`, or several and none was chosen. Choose one with
        `--model NAME`.""",
    ),
    "GEO214": _code(
        "sampled axis without its parent",
        """`domain sample(centres, from=points, rule=fps(m))` chooses the points of `centres`
        among those of `points`, which must be a node axis declared before it (a point cloud
        or another sampled axis): the statement names it with `from=`.""",
    ),
    "GEO215": _code(
        "not a sampled axis",
        """`x[from(centres)]` takes a value over a sampled axis's parent to the sampled axis;
        `centres` must be declared by `domain sample(centres, from=points, rule=fps(m))`. To
        gather onto an edge set use `x[src(E)]` / `x[dst(E)]`.""",
    ),
    "GEO220": _code(
        "bad translation step",
        """`T(d, step=k)` takes one keyword, `step`, a positive integer: the translations by
        multiples of `k` grid points (the shifts a restriction by `k` commutes with).""",
    ),
    "GEO221": _code(
        "translation step without a grid",
        """`T(d, step=k)` counts whole grid points, so it needs a grid domain; on a torus the
        step divides every grid size (`GEO408` otherwise). Elsewhere declare `T(d)`.""",
    ),
    "GEO222": _code(
        "Galerkin attention over different grids",
        """`galerkin_attention(q, k, v)` sums `k̃ᵀ ṽ` over the grid points of its queries'
        field: `q`, `k` and `v` are fields over one grid axis (the declared `torus`, or one
        coarser or finer resolution, such as `torus_over2`). Compute them pointwise from one
        field, `linear(z, n x scalar)`, or resample first (`restrict` / `prolong`).""",
    ),
    "GEO224": _code(
        "not a Cartesian tensor",
        """The Cartesian operators (`outer`, `contract`, `trace`, `sym_part`, `antisym_part`,
        `trace_part`, `axial`, `skew`) take copies of `vector` and `tensor(k)`, on which the
        group acts by g ⊗ … ⊗ g. Scalars, O(3) irreps other than `1o`, pseudovectors under
        O(3) (reflections flip them) and products with `regular` are not. Project first:
        `linear(x, n x vector)`.""",
    ),
    "GEO225": _code(
        "Cartesian operands with different numbers of copies",
        """`outer(u, v)` and `contract(t, v)` pair the copies of their operands in order, so
        both hold as many copies. Map one side first: `linear(v, n x vector)`.""",
    ),
    "GEO226": _code(
        "wrong tensor order",
        """Each Cartesian operator needs one tensor order per operand: `trace`, the parts,
        and `axial` take `tensor(2)`; `skew` and the second operand of `contract` take
        `vector`; `contract` contracts a `tensor(k)` with k >= 2; `outer` gives at most
        `tensor(8)`. Split a value of several orders with `linear(x, n x tensor(k))`.""",
    ),
    "GEO227": _code(
        "Levi-Civita map outside R^3",
        """`axial` and `skew` use the Levi-Civita symbol ε_ijk of R^3, so the model's vectors
        must have three components. In R^n keep the antisymmetric part as a matrix,
        `antisym_part(t)`.""",
    ),
    "GEO211": _code(
        "`breaks ... by` names no value",
        """A `breaks` statement names, after `by`, the values of the model that break the group:
        inputs, or values the model computes (`grid = grid_coords()`). The name is not bound in
        the model, or is a compile-time parameter. Name the inputs or values that read absolute
        coordinates (docs/language.md "Declared symmetry breaking").""",
    ),
    "GEO212": _code(
        "`breaks` names a group outside the symmetry",
        """`breaks G by ...` declares that a part G of the model's group is broken; G must be a
        geometric group contained in the `symmetry`'s geometric factor, in the same dimension:
        `T(3)`, `SO(3)`, `O(3)`, `SE(3)` or `E(3)` under `E(3)`; `T(2)` under `T(2)`. Breaking
        what the model never declared (`breaks E(3)` under `SE(3)`, `T(2)` under `E(3)`, anything
        under `trivial`) would verify nothing.""",
    ),
    "GEO213": _code(
        "part broken twice",
        """An earlier `breaks` statement already broke this part of the group (after `breaks
        T(3) by x` the group left is `O(3)`, so `breaks E(3)` names translations again). Declare
        each broken part once and list every value that breaks it after `by`.""",
    ),
    # --- GEO216: sequences (docs/language.md, "Sequences and causality") -----------------
    "GEO216": _code(
        "permutation of a causal sequence",
        """`symmetry S(tokens)` over `domain sequence(tokens, causal=true)`: in a causal model
        each token reads the tokens before it, an order no permutation keeps, so the model is
        not permutation-equivariant. Declare `symmetry trivial` (`geoc check` then verifies
        the causality law), or `causal=false` for a model that reads the whole sequence.""",
    ),
    # --- GEO3xx: types --------------------------------------------------------------------------
    "GEO300": _code(
        "type mismatch",
        """An operator received a value whose feature type it cannot take. The message names
        the operator, the expected type and the actual one.""",
    ),
    "GEO301": _code(
        "not a representation",
        """A feature type names something that is not an atom. Atoms: `scalar`, `pseudoscalar`,
        `vector`, `pseudovector`, `point(n)`, `tensor(k)`, `regular`, O(3) irreps such as `0e`,
        `1o`, `2e`, and the manifold atoms (`docs/manifolds.md`).""",
    ),
    "GEO302": _code(
        "bad compile-time value",
        """A compile-time parameter or attribute has the wrong kind of value: e.g. a
        multiplicity that is not a non-negative integer, a string where an `int` parameter is
        declared, or a `-p` override of the wrong type.""",
    ),
    "GEO303": _code(
        "tensor and attribute confused",
        """A call passes a tensor value where the operator's signature expects a compile-time
        attribute (such as the output type of `linear` or the widths of `mlp`), or the reverse.""",
    ),
    "GEO304": _code(
        "wrong arguments",
        """A call has too many or too few arguments, misses a required one, or names a keyword
        the operator does not take.""",
    ),
    "GEO305": _code(
        "axis mismatch",
        """Two values combined by an operator live on different index axes (e.g. one `over
        nodes`, one `over edges`). Gather node values onto edges with `x[src]` / `x[dst]`, or
        reduce edge values onto nodes with `sum(..., over=edges, into=nodes)`.""",
    ),
    "GEO306": _code(
        "declared type differs",
        """An `output` (or a block's return) declares a type that differs from the type the
        compiler infers for its value.""",
    ),
    "GEO307": _code(
        "representation mismatch",
        """`+` and `-` need both sides to have the same representation (point minus point and
        point plus vector are the exceptions). Map one side with `linear(...)` first.""",
    ),
    "GEO308": _code(
        "wrong number of values",
        """An assignment `a, b = ...` binds a different number of names than the right-hand
        side produces.""",
    ),
    "GEO309": _code(
        "dimension mismatch",
        """A point or vector has a different dimension from the group's space (e.g. `point(2)`
        under `E(3)`), or an atom needs a group with a standard representation.""",
    ),
    # --- GEO32x: manifold-valued features (docs/manifolds.md) ----------------------------------
    "GEO320": _code(
        "arithmetic leaves the manifold",
        """Lorentz points, Poincaré points, unit vectors and SPD matrices do not form a vector
        space: `+`, `-`, `*`, negation, and `sum`/`mean`/`max` of their coordinates give values
        off the manifold. The help names the manifold operation: `mobius_add` in the Poincaré
        ball, `lorentz_centroid` for averages on the hyperboloid, `normalize` back onto the
        sphere, or `logmap0` to work in the tangent space at the origin.""",
    ),
    "GEO321": _code(
        "Euclidean operator on manifold values",
        """A Euclidean layer (`linear`, `mlp`, `act`, `norm`, ...) was given manifold-valued
        features. Use the manifold's own layer (`lorentz_linear`, `lorentz_act`,
        `mobius_linear`, `bimap`, `reeig`, `logeig`), a classifier (`lorentz_mlr`,
        `poincare_mlr`), or map to the tangent space first with `logmap0`.""",
    ),
    "GEO322": _code(
        "wrong manifold",
        """A manifold operator received a value on another manifold (or a Euclidean value where
        it needs a manifold point, or the reverse): e.g. `lorentz_linear` of a Poincaré point,
        or `expmap0` without `manifold=`. The message names the manifold it expects.""",
    ),
    "GEO323": _code(
        "manifolds differ",
        """Two operands of a manifold operator live on different manifolds: different
        dimensions or curvatures (`mobius_add` of points of `poincare(4, c=1.0)` and
        `poincare(4, c=0.5)`), or a value with several manifold terms where one is needed.""",
    ),
    "GEO324": _code(
        "bad manifold parameter",
        """A manifold atom or operator has an invalid parameter: a curvature that is not a
        positive number, a dimension below 1, or a bimap output larger than its input.""",
    ),
    # --- GEO33x: representations of the solver's matrix groups (docs/solver.md) --------------
    "GEO330": _code(
        "representation not supported by the group",
        """The model's group cannot act on this atom: `regular` needs a finite channel group
        (`C(n)`, `D(n)`, `S(n)`, `A(n)`) with at most 10 000 elements; the matrix groups
        `Lorentz(n)`, `Sp(n)`, `C(n)`, `D(n)`, `S(n)`, `A(n)` act on `scalar`, `vector`,
        `tensor(k)` and `regular` only; `linear` maps built by the solver take those atoms (no
        pseudoscalars or irreps beside a `tensor(k)`); `tensor(k)` has an order from 1 to 8.""",
    ),
    "GEO331": _code(
        "equivariant basis too large",
        """A `linear` layer needs the equivariant maps between two large representations, and
        neither a stored dense basis (over 4 million entries) nor a closed form fits: closed
        forms exist for `tensor(k)` of `S(n)` (partition diagrams) and of `O(n)`, `Sp(n)` and,
        without Levi-Civita terms, `SO(n)` / `Lorentz(n)` (Brauer diagrams). Use smaller tensor
        orders or a smaller group.""",
    ),
    # --- GEO332-333: Riemannian batch normalisation of SPD matrices (docs/manifolds.md) ------
    "GEO332": _code(
        "bad batch-norm attribute",
        """Every batch norm (`spd_batch_norm`, `lorentz_batch_norm`,
        `poincare_midpoint_batch_norm`) takes a `momentum` with 0 < momentum <= 1 (the fraction
        of the way the running statistics move to the batch's); `spd_batch_norm` also `metric=`
        one of `airm`, `log_euclidean`, `gbw` and `iters` >= 1 fixed-point steps of the batch
        mean, `lorentz_batch_norm` a positive `eps` (added to the Fréchet variance before its
        square root).""",
    ),
    "GEO333": _code(
        "batch norm over edges or several axes",
        """A batch norm normalises the batch of every value of the call: the samples and every
        grid point of a field, the elements of one node axis over all graphs, or the samples of
        a value without an axis. Values over an edge set (whose masked padding would enter the
        mean) or over several axes are refused: pool or scatter them onto the nodes first.""",
    ),
    # --- GEO334-336: spectral filter options (McCabe et al. 2023; docs/spectral.md) ---------
    "GEO334": _code(
        "depthwise spectral filter changes the channels",
        """`spectral_conv(..., mixing=depthwise)` has one complex weight per (channel, mode): it
        filters each channel on its own, so its `out` is the input's channels. Change the width
        with a pointwise `linear` beside it, or use `mixing=full` (a channel matrix per mode).""",
    ),
    "GEO335": _code(
        "disc cut-off with modes per axis",
        """`spectral_conv(..., cutoff=disc)` keeps the modes with `|k| < m`, one radius for every
        axis; a list of modes per axis has no single radius. Write `modes=m`, or keep the box of
        modes (`cutoff=box`, the default).""",
    ),
    "GEO336": _code(
        "bad spectral filter bound",
        """`spectral_conv(..., bound=B)` scales each mode's filter to `B tanh(|w|) w / |w|`, so
        that its norm stays below `B`; `B` is a finite number >= 0 (0, the default: unbounded).""",
    ),
    "GEO310": _code(
        "fields carry scalar channels",
        """A value over a `torus` or `sphere` grid (a field) has scalar channels: the symmetry
        moves the grid points, not the channels. Vector or tensor fields on these domains are
        not supported. Under `C(4)` / `D(4)` on a square torus a field may also carry `k x
        regular` (group feature maps, docs/gcnn.md).""",
    ),
    "GEO311": _code(
        "operator does not act on fields",
        """The operator works on values over index axes or global values; on a field over a
        grid it is not defined (yet). Fields take `linear`, `mlp`, `act`, `+`, `-`, `*`,
        `concat` (all pointwise over the grid), the spectral operators, the group convolutions
        and `sum` / `mean` / `max(z, over=torus)`; a sphere grid has no plain pooling (its
        points carry quadrature weights).""",
    ),
    "GEO312": _code(
        "spectral operator on the wrong domain",
        """`spectral_conv` acts on fields over a `torus`; `sht` and `sfno_conv` on fields over a
        `sphere`; `isht` on spherical-harmonic coefficients (`over spectrum`, the output of
        `sht`).""",
    ),
    "GEO313": _code(
        "more modes than the grid resolves",
        """A spectral truncation keeps more Fourier modes or spherical-harmonic degrees than the
        grid can represent: at most n/2 modes per periodic dimension (n/2 + 1 on the last, the
        real-FFT one); at most nlat degrees and nlon/2 + 1 orders on the sphere.""",
    ),
    "GEO314": _code(
        "global value onto spherical-harmonic coefficients",
        """A global value (no `over`) meets values over an axis as the value equal to it at
        every position: a constant field on a grid, the same value at every node of a graph.
        Spherical-harmonic coefficients (`over spectrum`, the output of `sht`) have no such
        constant: a constant field is degree 0 alone, and adding one number to every degree
        and order is not rotation-equivariant. Combine the global value with the field before
        `sht(...)` or after `isht(...)`.""",
    ),
    "GEO315": _code(
        "grid convolution off a torus field",
        """`conv`, `restrict` and `prolong` act on fields over a `torus` grid (of any
        resolution: `torus`, or the coarser `torus_over2` a restriction returns), `[batch,
        channels, n1, ..., nd]`; on other values or domains they are not defined.""",
    ),
    "GEO316": _code(
        "bad local convolution kernel",
        """`conv`'s `kernel` is one odd integer or one per grid dimension, each from 1 to the
        grid size along its dimension: odd, so the kernel has a centre and the output stays on
        the input's grid points; at most the grid size, so the circular padding wraps at most
        once.""",
    ),
    "GEO317": _code(
        "bad restriction or prolongation factor",
        """`restrict` and `prolong` take an integer `factor` of at least 2; a restriction's
        factor divides every grid size of its input, so that the blocks of `factor^d` points
        tile the grid.""",
    ),
    "GEO318": _code(
        "fixed resampling changes the channels",
        """`restrict(..., mode=average)` and `prolong(..., mode=nearest)` have no weights:
        they keep the input's channels, so the output type is the input's. Use
        `mode=learned` to change the channels.""",
    ),
    # --- GEO34x: weight spaces (docs/weightspace.md) -------------------------------------------
    "GEO337": _code(
        "a map of Fourier coefficients that a shift does not commute with",
        """`fft(z, modes=m)` gives the complex Fourier coefficients of a torus field, over
        `fourier<m>`. A cyclic shift by `t` multiplies the mode `k` of every channel by the
        phase `exp(-2πi k·t/n)`: a rotation of the complex plane. An operator that acts on the
        real and imaginary parts one by one (`act`, `mlp`, `linear` with its bias, `*` of two
        values, pooling) does not commute with that rotation, so it is not shift-equivariant
        (AFNO's ReLU of the real and imaginary parts is such a map). Use `mod_act(c, fn)`,
        `c · fn(|c| + b) / |c|`, a function of the modulus times the phase; `mode_linear` (a
        complex channel matrix) or `mode_filter` (a complex weight per channel and mode); `+`,
        `-` and real constant factors; or go back to the grid with `ifft(c)` first
        (docs/spectral.md, "Nonlinearities in Fourier space").""",
    ),
    "GEO340": _code(
        "weight-space values carry scalar channels",
        """A value over `weights` (the weights and biases of an MLP, domain `weightspace`) has
        scalar channels: `S(hidden)` moves the weights, not the channels. Write `k x scalar
        over weights`.""",
    ),
    "GEO341": _code(
        "not a weight-space axis",
        """Weight-space values live over `weights` and nothing else. `hidden` names the neurons
        that `S(hidden)` permutes; it is not an axis values can live on.""",
    ),
    "GEO342": _code(
        "operator does not act on weight-space values",
        """Values over `weights` take the DWSNet operators `dws_linear`, `dws_pool` and
        `dws_flatten`, and the pointwise `linear`, `mlp`, `act`, `+`, `-`, `*` and `concat`
        (entry by entry). Gathers, scatters and pooling `over=` an axis are not defined on
        them; pool with `dws_pool`.""",
    ),
    "GEO343": _code(
        "weight-space and global values mixed",
        """`+`, `-`, `*` and `concat` take values over `weights` together, or global values
        together: a global value does not broadcast over the weights. Combine global values
        after `dws_pool`.""",
    ),
    "GEO344": _code(
        "weight-space operator outside a weight space",
        """`dws_linear`, `dws_pool` and `dws_flatten` act on values over `weights`, in a model
        whose domain is `weightspace(mlp=[d0, d1, ..., dL])`.""",
    ),
    # --- GEO35x: group convolutions (docs/gcnn.md) ---------------------------------------------
    "GEO350": _code(
        "group convolution on the wrong channels",
        """`lift_conv` lifts an image (a field of `k x scalar`) to group feature maps (`k x
        regular`); `group_conv` maps `k x regular` to `k x regular`; `group_pool` reduces
        `k x regular` to `k x scalar`. Lift scalars first, and write the output as `k x
        regular` (one copy of |G| channels per learned filter).""",
    ),
    "GEO351": _code(
        "bad convolution kernel",
        """A group convolution's `kernel` is an odd size from 1 up to the grid size: odd, so
        the filter has a centre that the rotations of the grid fix, and no larger than the
        grid, so the periodic padding wraps at most once.""",
    ),
    # --- GEO36x: integer labels (docs/language.md, "Integer labels") -------------------------
    "GEO360": _code(
        "operator does not take integer labels",
        """A value of type `index(n)` (an integer label per element: a species, an atom type,
        a class) went into an operator argument that does not read labels: only `embed`'s `z`
        and `symmetric_contraction`'s `species` look labels up. Labels are classes, not numbers:
        adding, scaling, normalising or convolving them means nothing, and a model that did
        would change when the classes were renumbered. Turn labels into features with
        `embed(z, channels x scalar)`, a learned table of one row per class.""",
    ),
    "GEO361": _code(
        "integer labels declared where they cannot be",
        """`index(n)` is the type of a model `input` holding one integer in `[0, n)` per
        element of an axis, written exactly `index(n) over AXIS` (n >= 1): not mixed with other
        channels, not repeated (`2 x index(n)`), not global, and not the type of an `output` or
        of an operator's result (such as the `out` of `linear` or `embed`).""",
    ),
    "GEO362": _code(
        "a label lookup needs labels alone (and `embed` invariant scalars out)",
        """`embed(z, out)` reads a row of a learned table for each label of `z`, which must be
        an `index(n)` value; the rows are the same whatever the group does, so `out` holds
        channels every element leaves alone (`scalar`, `0e`; not vectors, pseudoscalars under
        reflections, points or manifold values). `symmetric_contraction(a, species, ...)` picks
        its weights by `species`: labels `index(n)` alone, or invariant scalars that mix the
        rows (a one-hot row), never labels mixed with other channels.""",
    ),
    # --- GEO37x: initialisers (geoc.initialisers, docs/language.md) ----------------------------
    "GEO370": _code(
        "not an initialiser",
        """`init=` and `bias_init=` take an initialiser: `uniform` (the default, `nn.Linear`'s
        rule), `xavier` (optional `gain=`), `zeros`, `normal` (optional `std=`) or
        `orthogonal` (optional `gain=`), written as a name or called with keyword arguments
        that are non-negative numbers, e.g. `xavier(gain=0.001)`. Biases take `uniform`,
        `zeros` or `normal` only: a vector has no fan-out (`xavier`) and no orthogonal frame.""",
    ),
    "GEO371": _code(
        "per-layer list of the wrong length",
        """In a multi-layer operator such as `mlp`, `init=`, `bias_init=` and `bias=` take
        either one value for every layer or a list with exactly one value per layer (as many
        as `widths` has entries): `mlp(m, [64, 1], init=[uniform, xavier(gain=0.001)],
        bias=[true, false])`.""",
    ),
    "GEO372": _code(
        "bad sampling rule",
        """A sampled axis takes `rule=fps(m)` (farthest-point sampling of `m` points per graph,
        `m` a positive whole number) with an optional relative tie tolerance `tol=` (0 ≤ tol <
        1, default 1e-6): `domain sample(centres, from=points, rule=fps(64))`.""",
    ),
    "GEO373": _code(
        "sampling from an axis without positions",
        """Farthest-point sampling compares distances: its parent (`from=`) must be a point
        cloud (`domain pointcloud(points, dim=3)`) or another sampled axis, not a `set` or a
        `graph` without positions.""",
    ),
    "GEO374": _code(
        "input over a sampled axis",
        """The elements of a sampled axis are chosen inside the module, so no input can lie over
        it (its length is not known to the caller). Declare the value over the parent axis and
        take it with `x[from(centres)]`.""",
    ),
    # --- GEO375: interpolation between point clouds (docs/language.md, "Several axes") ---------
    "GEO375": _code(
        "interpolation without positions",
        """`interpolate(h, over=E, into=B)` weighs each edge by `1 / max(d², 1e-16)`, `d` the
        distance between the edge's two ends, so both ends of the edge set `E` must be point
        clouds: an edge set from or to a `set(...)` axis, or the edges of a `graph(nodes)`,
        have no positions. Declare the axes as `pointcloud(A, dim=n)` with their positions,
        or reduce with `mean` / `sum` instead.""",
    ),
    # --- GEO378: softmax (docs/language.md, "Softmax and attention") --------------------------
    "GEO378": _code(
        "softmax temperature not positive",
        """`softmax(s, over=..., temperature=T)` computes `exp(s / T)` normalised per segment;
        `T` must be a positive number (1.0 is the plain softmax, a smaller one sharpens).""",
    ),
    "GEO379": _code(
        "attention widths do not split into heads",
        """`attention(q, k, v, heads=h, over=A)` splits the channels of `q`, `k` and `v` into
        `h` equal heads: queries and keys need the same number of channels, and every width
        must be a multiple of `h` (and `h >= 1`). Project with `linear(x, n x scalar)` first.""",
    ),
    # --- GEO38x: frames (docs/language.md, "Frames and canonicalisation") ---------------------
    "GEO380": _code(
        "frame from values that are not vectors",
        """`frame(v1, ..., vn)` builds an orthonormal frame by Gram-Schmidt from n vectors of
        R^n (one `vector` each, translation-invariant), or in 2-D and 3-D from n-1 vectors with
        the last column their (generalised) cross product. Points are not vectors: subtract an
        equivariant origin first (`x - mean(x, over=points)`).""",
    ),
    "GEO381": _code(
        "value cannot be moved into a frame",
        """`to_frame(x, F)` reads scalars, pseudoscalars, vectors, pseudovectors and (in 3-D)
        O(3) irreps, and gives their coordinates in the frame: `F^T x` for vectors, `D(F)^T x`
        for irreps. A point needs an origin (`to_frame(x - o, F)`); other atoms (tensors,
        manifold values, labels) have no frame coordinates here.""",
    ),
    "GEO382": _code(
        "frame coordinates of the wrong size",
        """`from_frame(y, F, T)` turns frame coordinates back into a value of type `T` (`F y`
        for vectors, `D(F) y` for irreps): `y` must be invariant scalars, as many channels as
        `T` has, and `T` may hold the atoms `to_frame` reads (no points: add an origin after).""",
    ),
    "GEO383": _code(
        "not a frame",
        """The frame argument of `to_frame` / `from_frame` must be one `frame(n)` per element
        (global, one per graph, or over the same axes as the value), with n the dimension the
        group acts on. Build one with `frame(v1, ..., vn)`.""",
    ),
    "GEO384": _code(
        "statement not allowed in a canonical body",
        """A `canonical { ... }` body holds assignments, `repeat` and block calls: the values it
        computes are invariant and leave it as plain scalars. Declarations (`symmetry`,
        `domain`, `input`, `output`) stay outside, and a body inside a body adds nothing. The
        body needs a geometric group acting on channels: not a matrix group (`Lorentz(n)`, whose
        action stays) and not a grid domain (`sphere`, `torus`), whose points the group moves.""",
    ),
    # --- GEO385-387: so2_conv (docs/escn.md, "eSCN's own convolution") ----------------------
    "GEO385": _code(
        "mmax out of range",
        """`so2_conv(x, r, w, out=..., mmax=...)` keeps the orders `|m| <= mmax` in the edge
        frame, so `mmax` must be between 0 and the largest degree of `x` and `out`.""",
    ),
    "GEO386": _code(
        "edge frames without rotations",
        """`so2_conv` rotates features into the frame of each edge; that needs a group of 3-D
        rotations (`SO(3)`, `O(3)`, `SE(3)`, `E(3)`). Without rotations, use `linear` on
        the irreps instead.""",
    ),
    "GEO387": _code(
        "so2_conv output always zero",
        """An output term of `so2_conv` that no input degree couples to, at any order
        `m <= mmax`, would be zero. Under reflections a pair (input `l p`, output `l' p'`)
        couples at `m = 0` only when `p p' (-1)^(l+l')` is +1, and when it is -1 only at
        `m >= 1` through the antisymmetric block. Raise `mmax`, drop the term, or feed irreps
        that couple to it.""",
    ),
    # --- GEO388-389: positions along a sequence (docs/language.md, "Sequences and causality")
    "GEO388": _code(
        "positions off a sequence axis",
        """`rotary(x, over=tokens)` and `position_embedding(x, over=tokens, max_len=n)` read
        each token's position in its sequence, which only the axis of a `domain
        sequence(tokens)` has; `x` must lie over that axis.""",
    ),
    "GEO389": _code(
        "positional operator of the wrong size",
        """`rotary` rotates pairs of channels within each of `heads` equal parts, so the width
        of `x` must be divisible by `2 * heads` (and `base` positive); `position_embedding`
        needs `max_len >= 1`.""",
    ),
    # --- GEO390-391: cross-attention and PMA seeds (docs/language.md, "Softmax and attention") -
    "GEO390": _code(
        "cross-attention input over the wrong axis",
        """`attention(q, k, v, over=E)` over an edge set `E` from axis `A` (`src`) to axis `B`
        (`dst`) attends from `B` to `A`: the queries are over `B`, the keys and values over
        `A`, and any of the three may instead be a value over `E` itself (one per edge, e.g.
        computed from relative positions). The result is over `B`. Declare the edge set the
        other way round (`src=` the keys' axis) or gather the value onto the right axis.""",
    ),
    "GEO391": _code(
        "attention_pool seeds not positive",
        """`attention_pool(k, v, over=A, seeds=n)` pools with `n` learned queries (the Set
        Transformer's PMA_n) and gives `n` copies of `v`'s type side by side; `n` must be at
        least 1.""",
    ),
    "GEO392": _code(
        "attention window not positive",
        """`attention(q, k, v, over=E, window=σ)` adds `-|p_b - p_a|² / σ²` to the score of
        every edge `a -> b` (a Gaussian window on the distance); `σ` must be > 0. Leave
        `window` out for no window.""",
    ),
    "GEO393": _code(
        "attention window without positions",
        """The window of `attention(..., window=σ)` reads the distance between the two ends of
        each edge: `over=` must be an edge set whose two axes are point clouds (or the edges of
        a point cloud). Dense attention along an axis, or an edge set of a `set` or `graph`,
        has no distances.""",
    ),
    # --- GEO395: head_scale (docs/language.md, "Softmax and attention") ----------------------
    "GEO395": _code(
        "heads that do not split the values",
        """`head_scale(a, v)` scales head `h` of `v` by `a_h`, one invariant weight per head
        (`a` is `H x scalar`). Every term of `v` splits its copies into `H` equal runs in
        order, so each term needs a multiple of `H` copies: a head that took part of a copy,
        or a different share of each term, is not built. Project `v` with `linear` to
        multiplicities divisible by `H` (`8x0e + 8x1o` for 2 or 4 heads), or score fewer
        heads.""",
    ),
    # --- GEO4xx: equivariance -------------------------------------------------------------------
    "GEO400": _code(
        "operation breaks the symmetry",
        """The operation is not equivariant under the model's group for the types it receives.
        The help line names an equivariant alternative.""",
    ),
    "GEO401": _code(
        "input must be invariant",
        """An operator that mixes channels freely (`mlp`, or a non-linearity) was given channels
        that transform under the group. Feed it invariants (`norm`, `sqnorm`, `dot`) instead, or
        use the equivariant `linear`.""",
    ),
    "GEO402": _code(
        "pointwise non-linearity on a transforming representation",
        """A pointwise non-linearity commutes with a group action only if the action permutes
        coordinates (scalars; an odd function such as `tanh` also commutes with sign flips of
        pseudoscalars). Apply it to invariants, or gate vectors by scalars.""",
    ),
    "GEO403": _code(
        "no equivariant linear map",
        """By Schur's lemma the only equivariant linear map between these representations is
        zero: an output atom does not appear in the input (e.g. scalars to vectors under O(3)).
        Build the missing atoms with a product first (`s * v`). Under the solver's groups the
        equivariant-basis solver decides: e.g. `vector` to `tensor(2)` under O(n) has no
        equivariant map (odd total order), while SO(3) maps `tensor(2)` to `vector` (ε). To
        build matrices from vectors use the bilinear `outer(u, v)` (docs/cartesian.md).""",
    ),
    "GEO404": _code(
        "points are not vectors",
        """Points transform affinely under translations. A sum of points, the norm of a point,
        or a linear map of points is not translation-equivariant. Use differences
        (`x[dst] - x[src]` is a vector), `mean` (an affine combination), or `p + v`.""",
    ),
    "GEO405": _code(
        "componentwise reduction breaks the symmetry",
        """`max` (or `min`) component by component is equivariant only when the group permutes
        coordinates. Reduce vectors with `sum` or `mean`, or take `max` of invariants.""",
    ),
    "GEO406": _code(
        "symmetry and domain disagree",
        """A `symmetry` factor permutes an axis the domain does not have, or the domain needs a
        group factor that is missing.""",
    ),
    "GEO407": _code(
        "product of transforming values",
        """`a * b` multiplies channel by channel; it is equivariant only if one side is
        invariant (scalars) or a pseudoscalar. Use `dot(a, b)` or a tensor product for two
        transforming values.""",
    ),
    "GEO450": _code(
        "point shared by the atoms of a periodic cell",
        """Under a periodic cell (`pointcloud(..., cell=true)`) any one atom may be moved by a
        lattice vector without changing the crystal, so a point is meaningful only per atom. A
        global point, declared (`input c: point(3)`) or computed from the atoms (`mean(pos,
        over=nodes)`), would move with that one atom. Keep points per atom: `pos[dst] -
        pos[src]` is the edge vector to the periodic image, `pos + v` a point per atom.""",
    ),
    "GEO480": _code(
        "permutation of a sampled axis",
        """A sampled axis is ordered by the geometry (farthest-point order), and no input lies
        over it, so nothing permutes it: values over it are invariant under permutations of its
        parent. `S(centres)` for a sampled axis `centres` is refused; drop it.""",
    ),
    "GEO481": _code(
        "sampling under a group that does not keep distances",
        """Farthest-point sampling chooses the same points only under maps that keep distances
        between points (rotations, reflections, translations). A group whose action on
        points does not keep the Euclidean norm (e.g. `Lorentz(n)`) cannot be proved to commute
        with it.""",
    ),
    "GEO486": _code(
        "softmax of a transforming value",
        """`softmax` takes `exp` of every channel of its scores, which commutes with no group
        action but the trivial one: the scores must be invariant (scalars under the model's
        group). Score with invariants: `dot(q, k)`, `sqnorm(r)`, `norm(v)`, or a `linear` /
        `mlp` to scalars; the weights it returns are invariant and may then multiply values of
        any type (`sum(a * r, over=edges, into=nodes)`).""",
    ),
    "GEO487": _code(
        "attention scores from a transforming value",
        """`attention` scores every pair by `q·k / √d` per head and takes a softmax of it: the
        queries and keys must be invariant (scalars under the model's group), or the scores,
        and their exponentials, would move with the group. Project to scalars first: `dot`,
        `sqnorm`, `norm`, or a `linear` / `mlp` to `n x scalar`.""",
    ),
    "GEO488": _code(
        "positions under a permutation",
        """A positional operator (`rotary`, `position_embedding`) gives each token a function
        of its position, which a permutation of the tokens changes: under `S(tokens)` it
        would not be equivariant. A sequence with positions has no permutation symmetry:
        declare the break, `breaks S(tokens) by q, k` naming the values computed with positions
        (the rest of the model is still proved under `S(tokens)`), or drop `S(tokens)` from
        `symmetry` (`symmetry trivial`).""",
    ),
    "GEO489": _code(
        "a causal sequence reads later tokens",
        """In `domain sequence(tokens, causal=true)` every value over the tokens, and every
        output, may depend only on the tokens at or before its own position. The operator named
        mixes tokens otherwise: a `softmax(s, over=tokens)`, a reduction (`sum`, `mean`, `max`,
        `attention_pool`) whose value reaches a token or an output, or any operator that is
        neither token by token nor causal by its traits. Dense `attention(q, k, v,
        over=tokens)` is causal there (it lowers with the causal mask); for a model that reads
        the whole sequence declare `causal=false`.""",
    ),
    "GEO490": _code(
        "positional operator on transforming channels",
        """`rotary` rotates pairs of channels and `position_embedding` adds a learned vector:
        both treat channels as plain numbers, which only invariant channels are. Project to
        scalars first with `linear(x, n x scalar)`.""",
    ),
    "GEO491": _code(
        "channel-wise map of transforming channels",
        """`channel_scale` (a learned scale per channel) and `head_normalize` (each head's
        channels over their norm) treat channels as plain numbers, which only invariant
        channels are. Project to scalars first with `linear(x, n x scalar)`.""",
    ),
    "GEO492": _code(
        "channel_scale with a bad base or power",
        """`channel_scale(x, init=a, base=b, power=k)` learns `p`, starting at `b`, and scales by
        `(p * a / b)^k` (nGPT's scaled parametrisation): `b` must be positive and `k` 1 or 2
        (2: one scale for both factors of a product, as nGPT's `s_qk` scales q and k).""",
    ),
    "GEO494": _code(
        "Levi-Civita map under reflections",
        """`axial(t)` and `skew(v)` contract with ε_ijk, which is invariant only under
        rotations with det g = +1: a reflection flips its sign, so under O(3) (or E(3), or a
        matrix group) the axial vector of a tensor is a pseudovector and `skew` of a vector
        is a pseudotensor, not the types these operators give. Declare proper rotations
        (`symmetry SO(3)`, `SE(3)`); under O(3) map into the pseudovector with
        `linear(t, pseudovector)` (the solver's ε map), or keep the antisymmetric part as a
        tensor, `antisym_part(t)`.""",
    ),
    "GEO420": _code(
        "Euclidean norm of a non-orthogonal representation",
        """`norm`, `sqnorm`, `dot` and every operator that normalises by a norm (`norm_act`,
        `layer_norm`, `normalize`, ...) use the Euclidean inner product, which `Lorentz(n)` and
        `Sp(n)` do not preserve: boosts change |x|. The invariant is the group's own form:
        `mdot(x, y)` (the Minkowski product x^T η y for Lorentz, x^T J y for Sp).""",
    ),
    "GEO411": _code(
        "result is not on the manifold",
        """Only operators that keep values on their manifold (`gather`, `concat` and the
        manifold operators) give a manifold result. Any other operator computes in coordinates:
        a `unit(n)` input comes out as its coordinates in R^n (a `vector` under rotations), and
        a Lorentz, Poincaré or SPD result cannot be typed at all. Type the result as Euclidean
        values and map them onto the manifold (`normalize`, `expmap0`).""",
    ),
    "GEO412": _code(
        "band limit past the grid's exact transform",
        """Under `SO(3)` a spherical transform (`sht`, `sfno_conv`) is equivariant only for a
        band the grid integrates exactly: degrees l < lmax with lmax <= nlat on a
        `legendre_gauss` grid (Gauss-Legendre is exact to polynomial degree 2 nlat - 1),
        lmax <= (nlat + 1) // 2 on an `equiangular` one (Clenshaw-Curtis: degree nlat - 1),
        and lmax <= (nlon + 1) // 2 for the orders. Past it the quadrature aliases degrees into
        one another, which rotations do not commute with. Polar rotations (`SO(2)`) commute at
        any band.""",
    ),
    "GEO413": _code(
        "spectral layer on group feature maps",
        """Under grid rotations `spectral_conv` ties its weights over each orbit of modes,
        `W(g k) = W(k)`, which commutes with the rotations of scalar channels. On `regular`
        channels (group feature maps) the weights would have to permute the channels too,
        `W(g k) = ρ(g) W(k) ρ(g)⁻¹`; that layer is not built. Pool the group axis
        (`group_pool`) or map to scalars (`linear`) first.""",
    ),
    "GEO414": _code(
        "local convolution under grid rotations",
        """`conv` has a free kernel: the rotations and reflections of the grid (`C(4)`,
        `D(4)`) do not map it onto itself, so it does not commute with them. Under those groups
        use the group convolutions `lift_conv` / `group_conv` (docs/gcnn.md); `conv`
        commutes exactly with the shifts `T(d)`.""",
    ),
    "GEO415": _code(
        "resampling under shifts it does not commute with",
        """`restrict` by a factor `f` commutes only with the shifts by multiples of `f` (any
        other shift moves the grid points relative to the blocks of `f^d` points); after
        restrictions by `f` and `g`, by multiples of `f g`. Declare that subgroup, `symmetry
        T(d, step=k)` with `k` the product (the help line names it): the model is typed and
        checked under the shifts by multiples of `k`, and claims no more. Grid rotations
        (`C(4)`, `D(4)`) turn the blocks off their boundaries: resampling under them is
        refused.""",
    ),
    "GEO416": _code(
        "Galerkin attention of transforming channels",
        """`galerkin_attention` layer-normalises the channels of `k` and `v` and multiplies
        those of `q`, `k` and `v` with each other; that commutes with the group only when each
        channel is invariant (the sum over the grid takes care of the points). Channels that
        transform, such as `regular` copies under `C(4)`, are refused: pool them to invariants
        first (`group_pool`), or map scalar fields with `linear(z, n x scalar)`.""",
    ),
    "GEO410": _code(
        "manifold operator breaks the symmetry",
        """A manifold operator with learned weights (`lorentz_linear`, `mobius_linear`,
        `lorentz_mlr`, `poincare_mlr`, `bimap`) or a coordinate-wise non-linearity
        (`lorentz_act`) does not commute with the rotations of the model's group. In
        particular `bimap`'s `Wᵀ X W` is not equivariant under congruence `X -> Q X Qᵀ`: use
        the equivariant spectral maps `reeig` and `logeig`, and invariants such as `eigvals`
        or `norm` of `logeig(x)` before an `mlp`.""",
    ),
    "GEO417": _code(
        "batch norm bias breaks the rotations",
        """`spd_batch_norm(..., bias=true)` re-centres every batch at a learned SPD matrix `B`
        (`B^½ Y B^½`, or `exp(log Y + log B)`), which congruence `X -> Q X Qᵀ` does not move, so
        the result is not O(n)-equivariant. Drop the bias (the centred batch is equivariant in
        training mode) or declare a group without rotations.""",
    ),
    "GEO418": _code(
        "eval-mode batch norm has no rotation claim",
        """`geoc check` was given a module in eval mode whose `spd_batch_norm` centres at its
        running mean, a fixed matrix that congruence `X -> Q X Qᵀ` does not move: in eval mode
        the model is not O(n)-equivariant and there is nothing to check under rotations. Check
        the module in training mode (`module.train()`, the mode `geoc check` compiles in),
        where the batch statistics make it equivariant.""",
    ),
    "GEO408": _code(
        "the group does not act on this domain",
        """A grid domain fixes which symmetries can act on it: a `torus(n1, ..., nd)` carries
        cyclic shifts, `T(d)`, and a square 2-D one also `C(4)` / `D(4)` (90° rotations and
        reflections, with or without `T(2)`); a `sphere` carries rotations, `SO(3)` (or
        `SO(2)`, rotations about the polar axis). Other factors (other reflections,
        permutations, other dimensions or rotation orders) have no action on the grid.""",
    ),
    "GEO409": _code(
        "spectral filter breaks rotation equivariance",
        """A spherical filter with a weight per (degree l, order m) commutes only with rotations
        about the polar axis. Under `SO(3)` the weights may depend on the degree l alone
        (Driscoll-Healy convolution, `filter=degree`).""",
    ),
    "GEO421": _code(
        "multivector algebra out of range",
        """`multivector(p, q)` needs integers p, q >= 0 with 1 <= p + q <= 6: a multivector has
        2^(p+q) coordinates and the geometric product a table of 8^(p+q) entries, built once per
        module (docs/clifford.md).""",
    ),
    "GEO422": _code(
        "not multivectors",
        """A Clifford operator (`geometric_product`, `wedge`, `left_contraction`, `grade`,
        `reverse`, `mv_linear`, `mv_gate`, `mv_norm`, `vector_part`) takes values of exactly one
        term `c x multivector(p, q)`. Embed vectors with `embed_vector(x)`; keep other channels
        in a value of their own.""",
    ),
    "GEO423": _code(
        "products of different algebras",
        """A product of two multivectors is defined within one algebra Cl(p, q): both operands
        must have the same signature (`multivector(1, 3)` and `multivector(3, 0)` do not
        multiply).""",
    ),
    "GEO424": _code(
        "products of different numbers of copies",
        """The Clifford products multiply copy by copy: both operands need the same number of
        copies. Map one side to the other's with `mv_linear(x, c)`.""",
    ),
    "GEO425": _code(
        "vectors outside the group's algebra",
        """`embed_vector` places `c x vector` at grade 1 of the algebra of the group's space:
        Cl(n, 0) under O(n), SO(n), E(n) (or without a channel group), Cl(p, q) under O(p, q),
        SO(p, q), SO+(p, q). Another channel group (`Lorentz(n)`, `Sp(n)`, ...) has no algebra
        here, a point under translations is not a vector (subtract one first), and
        `vector_part` reads only the algebra whose grade 1 is the group's `vector`.""",
    ),
    "GEO426": _code(
        "grade out of range",
        """`grade(x, k)` keeps grade k of a multivector of Cl(p, q): `0 <= k <= p + q`.""",
    ),
    "GEO427": _code(
        "multivector norm without smoothing",
        """`mv_norm(x, eps=...)` divides each grade by a function of
        `(q_k^2 + eps^2)^(1/4)`, q_k the grade's quadratic form: `eps` must be positive so that
        the size and its derivatives stay finite at zero.""",
    ),
    "GEO428": _code(
        "multivector layer without outputs",
        """`mv_linear(x, out)` gives `out` copies of the input's algebra: `out >= 1`.""",
    ),
    "GEO429": _code(
        "dual multivector weights under reflections",
        """`mv_linear(x, out, dual=true)` adds the maps `x -> <x>_k I` (right multiplication by
        the pseudoscalar, grade k to grade p + q - k). An element g moves I to det(g) I, so
        these commute only with groups of determinant 1 (`SO(p, q)`, `SO+(p, q)`, `SO(n)`,
        `SE(n)`); a reflection of `O(p, q)`, `O(n)` or `E(n)` flips their sign. Drop `dual`
        or declare the group without reflections.""",
    ),
    "GEO430": _code(
        "flattening breaks the neuron-permutation symmetry",
        """`dws_flatten` lists the weights in a fixed order, so permuting the neurons of a
        hidden layer moves its entries: it is not invariant under `S(hidden)`. Pool with
        `dws_pool` (invariant) or map with `dws_linear` (equivariant); flattening is the
        plain-MLP baseline, for `symmetry trivial`.""",
    ),
    "GEO431": _code(
        "the group does not act on the weight space",
        """A `weightspace` domain carries `S(hidden)`: the permutations of the neurons of
        every hidden layer at once (rows of `W_k`, entries of `b_k`, columns of `W_{k+1}`).
        Other factors (rotations, `S(weights)`, which would permute every weight on its own)
        are not symmetries of an MLP's weights.""",
    ),
    "GEO432": _code(
        "sheaf operator not over an edge set",
        """`restriction_maps(a, b, d=...)` reads two values over one edge set (an edge's two
        ends, gathered as `h[dst]`, `h[src]`), and `sheaf_diffusion(x, maps, d=...)` reads the
        maps over an edge set: the maps belong to the edges of a sheaf, one pair per edge.""",
    ),
    "GEO433": _code(
        "sheaf operator of transforming channels",
        """Stalks and restriction maps are invariant scalars: `restriction_maps` and
        `sheaf_diffusion` mix stalk coordinates and channels by learned matrices and multiply
        them by the maps, which commutes only with a group that leaves every channel fixed
        (the node permutations do; rotations of vector channels do not).""",
    ),
    "GEO434": _code(
        "stalk dimension too small",
        """The stalks of a sheaf have dimension `d >= 1`; orthogonal restriction maps need
        `d >= 2`, since the only rotation of a line is the identity: take `kind=diag` for
        one-dimensional stalks.""",
    ),
    "GEO435": _code(
        "general restriction maps are not built",
        """Neural sheaf diffusion with unconstrained `d x d` maps normalises by the inverse
        square root of each node's `d x d` block `D_v = Σ F_{v◁e}ᵀ F_{v◁e}`; an eigenvalue
        decomposition would give it, but its derivatives are not finite where eigenvalues
        meet (an isolated node's zero block, or orthogonal maps). It is not built: use
        `kind=diag` or `kind=orthogonal`.""",
    ),
    "GEO436": _code(
        "sheaf diffusion over edges between other nodes",
        """`sheaf_diffusion(x, maps, d=...)` diffuses the stalks `x` over the edges the maps
        are on; both ends of those edges must be on `x`'s axis (the domain's `edges` of a
        `graph(nodes)`, or an edge set from that axis to itself).""",
    ),
    "GEO437": _code(
        "stalk width not a multiple of the stalk dimension",
        """A node's value holds `d` stalk coordinates of `f` channels each (`d*f x scalar`,
        stalk coordinate first): its width must be a multiple of `d`.""",
    ),
    "GEO438": _code(
        "restriction maps of another shape",
        """`sheaf_diffusion(x, maps, d=..., kind=...)` reads two maps per edge, the `dst` end's
        first: `2d` numbers for `kind=diag`, `2d²` for `kind=orthogonal`, as
        `restriction_maps` with the same `d` and `kind` makes them.""",
    ),
    "GEO440": _code(
        "group convolution without a grid rotation group",
        """`lift_conv`, `group_conv` and `group_pool` need the rotations of the grid as the
        model's group: `symmetry C(4)` or `D(4)` (alone, or with `T(2)` for the shifts) on a
        square `torus(n, n)`. Under other groups there is no regular representation that the
        grid's rotations permute.""",
    ),
    "GEO441": _code(
        "a skip that does not join two hidden layers of one width",
        """`weightspace(..., residual=[i])` declares `h_i = act(W_i h_(i-1) + b_i) + h_(i-1)`:
        layer `i - 1`'s output is added to layer `i`'s, so both must have one width and both
        must be hidden (`2 <= i <= L - 1`): their neurons then move by one permutation, while
        the input and output neurons of the network never move.""",
    ),
    # --- GEO46x: frames and canonicalisation -----------------------------------------------
    "GEO460": _code(
        "cross-product frame under reflections",
        """`frame(v1, v2)` completes the frame with the cross product `v1 x v2`, a pseudovector:
        a reflection R maps it to `det(R) R (v1 x v2)`, so the frame would not transform as
        `F -> R F`. It is equivariant under SO(3) / SE(3) only. Give a third vector
        (`frame(v1, v2, v3)`, Gram-Schmidt, exact under O(3)) or declare `SO(3)` / `SE(3)`.""",
    ),
    "GEO461": _code(
        "non-invariant value read inside a canonical body",
        """A `canonical { ... }` body is typed without the geometric symmetry: its operators may
        be any functions (an `mlp` of coordinates, `sin` of a component). That is sound only if
        everything it reads from outside is invariant under the geometric group (scalars, and
        the coordinates `to_frame(x, F)` gives). A vector, point, frame or irrep read inside
        would make its results depend on the orientation: move it into the frame first.""",
    ),
    "GEO462": _code(
        "canonical body value leaves as a manifold point",
        """Values computed in a `canonical { ... }` body leave it as invariant scalars, their
        channels in order. A manifold point (Lorentz, Poincaré, SPD, frame) would lose its
        manifold there: map it to coordinates (`logmap0`, `logeig`) inside the body.""",
    ),
    "GEO470": _code(
        "absolute coordinates under translations",
        """An operator reads absolute coordinates (`grid_coords`: the position of each grid
        point), which a shift of the grid does not move along with the field: the result is
        not equivariant under `T(d)`. FNO as published feeds these coordinates in on purpose;
        declare it with `breaks T(d) by <value>` after `symmetry`, and the model is typed and
        checked under what remains (docs/language.md "Declared symmetry breaking").""",
    ),
    "GEO471": _code(
        "absolute latitude under SO(3)",
        """`latitude` gives each grid point of the sphere its latitude, which a rotation about
        the polar axis keeps and any other rotation changes: the result is not equivariant
        under `SO(3)`. A model that reads the latitude on purpose (a location channel) declares
        `breaks SO(3) to SO(2) by <value>`: it is then typed and checked under the rotations
        about the polar axis, exactly, on the grid.""",
    ),
    # --- GEO5xx: backend ------------------------------------------------------------------------
    "GEO500": _code(
        "stage not available",
        """Retired. Early versions of geoc used it when `compile` and `check` stopped after
        parsing; every stage exists now. An operator or domain that is not implemented yet is
        `GEO501`.""",
    ),
    "GEO501": _code(
        "operator not implemented",
        """The operator belongs to the language, but this version of geoc has no typing rule or
        no torch.fx lowering for it yet. The message names the operator and the work it comes
        with; nothing is written.""",
    ),
    "GEO502": _code(
        "device not available",
        """The requested device (e.g. `--device cuda`) is not available on this machine.""",
    ),
    "GEO503": _code(
        "cannot write output",
        """Writing the compiled module folder failed; nothing half-written is left behind.""",
    ),
    "GEO504": _code(
        "not an interatomic potential",
        """`export_potential` (or `geoc compile --potential`) writes energy, forces and stress
        as one exported program. It needs a point cloud with `edges=radius(r)` (the neighbour
        list is computed outside the program and passed in) and a global scalar output, the
        energy of each graph. Other models export with `geoc compile -o DIR`.""",
    ),
    "GEO505": _code(
        "cannot load a saved model into geoc",
        """`geoc.load(DIR)` compiles the spec that `geoc.save` recorded in the folder again and
        loads the saved weights into it. It refuses a folder that is not a saved model, one
        that records no spec (written from an IR graph, or by `geoc compile -o`), and one whose
        spec this version of geoc compiles to different code than the saved `module.py`. The
        folder's own `load()` still runs the model with torch alone.""",
    ),
    "GEO506": _code(
        "unknown optimisation level",
        """`geoc.compile(..., optimize=...)` and `geoc compile --optimize` take one of `none`
        (the IR as written, run eager), `ir` (the IR after the compiler's rewrites, run eager;
        the default) or `inductor` (the rewritten IR run through `torch.compile`, verified
        against eager on its first call; docs/compiled.md).""",
    ),
    "GEO507": _code(
        "compiled module disagrees with eager",
        """With `optimize="inductor"`, the first call of the module runs both the eager module
        and its `torch.compile`d twin on the same inputs and compares every output within a
        tolerance of its dtype (1e-9 for float64, 1e-4 for float32, relative to the output's
        largest value). They differed: torch.compile or a kernel that traces differently
        than it runs changed the result. Compile with `optimize="ir"` (eager) meanwhile, and
        report it with the spec and the inputs.""",
    ),
    "GEO508": _code(
        "cannot write the picture",
        """`geoc graph -o FILE` could not create or replace FILE (a missing permission, a
        folder in the way, a full disk). The file is written atomically, so an old one is left
        as it was. Choose a writable path.""",
    ),
    "GEO509": _code(
        "Graphviz unavailable or failed",
        """`geoc graph --layout graphviz` needs Graphviz's `dot` on PATH, and `dot -Tsvg` must
        succeed on the DOT geoc writes. Install Graphviz, or draw with the built-in layered
        layout (`--layout python`, what `--layout auto` uses without `dot`; docs/graph.md).""",
    ),
    "GEO510": _code(
        "several axes: not built yet",
        """A model over several axes (several `domain` statements, docs/language.md "Several
        axes") uses a combination this version does not build: a further domain that is a grid
        (`torus`, `sphere`), a weight space or a second `graph`; a periodic cell; or an input or
        output over an edge set between axes (reduce it onto an axis first). The message names
        which.""",
    ),
    "GEO515": _code(
        "sampling: not built yet",
        """A sampled axis uses a rule this version does not build: `fps(ratio=...)` (a fraction
        of each graph's points, PyTorch Geometric's `fps`) is not built; give a fixed number of
        centres per graph, `fps(m)` (a graph with fewer points gives all of them).""",
    ),
    "GEO517": _code(
        "interpolation over a periodic cell: not built yet",
        """`interpolate` over the edges of a point cloud with `cell=true` would weigh each edge
        by its distance to a periodic image of the source; this version does not build that.
        Reduce with `mean` and explicit weights (e.g. of `sqnorm(x[dst] - x[src])`) instead.""",
    ),
    "GEO513": _code(
        "reduction to a named subgroup: not built",
        """`breaks G to H by ...` names the subgroup that remains. One reduction is built:
        `breaks SO(3) to SO(2)` (or `O(3) to SO(2)`) on a `sphere` domain, where `SO(2)` is the
        rotations about the polar axis that a latitude channel keeps. Elsewhere (`SO(2)` about
        some axis of a point cloud, any other subgroup) it is not built: declare the whole break
        (`breaks SO(3) by u`: no rotation remains), which the check then verifies.""",
    ),
    "GEO514": _code(
        "breaking a non-geometric factor: not built",
        """Only the geometric factor of `symmetry` (rotations, reflections, translations) and the
        permutations of a `sequence` axis (whose positions break them: `breaks S(tokens) by q`)
        can be declared broken. Breaking another permutation factor `S(axis)` or a matrix group
        (`Lorentz(n)`, `C(4)`, ...) is not built: drop the factor from `symmetry` instead. Nor
        is a break in a periodic cell (`cell=true`), whose symmetry also moves single atoms by
        lattice vectors, which absolute coordinates break as well.""",
    ),
    "GEO519": _code(
        "attention heads that split a copy: not built",
        """`attention` and `attention_pool` multiply each head's slice of the values by that
        head's invariant weights. Values that transform (vectors, points) stay equivariant
        only when every head holds whole copies: one atom type whose number of copies is a
        multiple of `heads` (`4 x vector` with 2 heads), or `heads=1` (any type). Other splits
        (a copy cut in two, mixed types over several heads) are not built: project with
        `linear(v, 4 x vector)` first, or use one head.""",
    ),
    # --- GEO52x: resource limits (what the compiler refuses to build rather than exhaust the
    # machine) ------------------------------------------------------------------------------------
    "GEO520": _code(
        "resource budget exceeded",
        """Building this layer (or checking it) needs an object larger than the resource budget
        allows: an equivariant basis, a Kronecker product of representation matrices, a dense
        matrix, a trainable parameter, a numeric solve over a tensor space of too many
        dimensions, or an IR of too many nodes (`repeat`, blocks). geoc refuses it before
        allocating anything, instead of exhausting the machine's memory or running for minutes.
        The message names the object, the size it would need and the limit. Use smaller types
        (a lower tensor order, a smaller group, fewer layers), or raise the budget with
        `--max-bytes BYTES` / `--max-dim N` / `--max-nodes N` (Python:
        `budget=geoc.budget.Budget(...)`) on a machine that can afford it.""",
    ),
    "GEO521": _code(
        "recursive block",
        """A `block` calls itself, directly (`f` calls `f`) or through other blocks (`f` calls
        `g` calls `f`). Blocks are expanded at compile time and have no conditionals, so the
        expansion would never end. The message names the cycle. Write repeated layers with
        `repeat n { ... }`.""",
    ),
    "GEO526": _code(
        "attention window over a periodic cell: not built",
        """The Gaussian window of `attention(..., window=σ)` over the edges of a periodic cell
        would need each edge's distance to a periodic image, which is not built. Drop the
        window, or add a score computed from the edge vector.""",
    ),
    "GEO532": _code(
        "spherical-harmonic coefficients as a model input: not built",
        """A model takes fields over `sphere` and computes their coefficients inside (`sht(z)`):
        coefficients are complex, laid out per band, and rotate by Wigner D, and a compiled
        module taking them is not built. Take the field and transform it in the model; an
        output over `spectrum` is fine.""",
    ),
    "GEO529": _code(
        "image canonicalisation under this group: not built",
        """`canonicalise(x, s)` turns an image by the rotations (reflections) of a square torus:
        the model's group must be `C(4)` or `D(4)` on `torus(n, n)`. With `T(2)` the turned
        image would move by a shift that depends on the input, which no type states; this is
        not built. Declare `symmetry C(4)` (the spec's mean over the canonical grid is then also
        shift-invariant where the scores do not tie, but only the rotations are checked).""",
    ),
    "GEO419": _code(
        "canonicalise: not an image or not one score per element",
        """`canonicalise(x, s)` reads an image `k x scalar over torus` and one global `regular`
        (one score per group element, equivariant: a lifting convolution pooled over the grid,
        `linear(mean(lift_conv(x, k x regular), over=torus), regular)`).""",
    ),
    "GEO531": _code(
        "spectral filter options under grid rotations: not built",
        """Under rotations and reflections of the grid (`C(4)`, `D(4)`) `spectral_conv` ties its
        weights over the orbits of modes; depthwise, disc-masked or bounded filters tied that way
        are not built. Declare `symmetry T(d)` (every option commutes with the shifts), or drop
        `mixing`, `cutoff` and `bound`. The same holds for Fourier coefficients (`fft`,
        `ifft`, `mod_act`, `mode_linear`, `mode_filter`): a grid rotation permutes the modes,
        which their weights do not follow; declare `symmetry T(d)`.""",
    ),
    "GEO533": _code(
        "unknown sphere grid option",
        """`geoc.compile(..., sphere_grid=...)` names the kind of grid a sphere model's inputs
        are on: `equiangular` or `legendre_gauss` (their size is the inputs' own). Another
        value, or the option on a model whose domain is not a sphere, is refused.""",
    ),
    # --- GEO6xx: numeric verification -----------------------------------------------------------
    "GEO600": _code(
        "numeric equivariance failed",
        """`geoc check` transformed the inputs by a sampled group element and the outputs did not
        transform as their types declare. The report names the first value that breaks its
        law; this points at a bug in a lowering or a typing rule, please report it.""",
    ),
    "GEO601": _code(
        "value off its manifold",
        """`geoc check` found a manifold-valued value that is not on its manifold within the
        tolerance of docs/manifolds.md: a Lorentz point with `<x,x>_L != -1/k`, a Poincaré
        point outside the ball, a unit vector of norm != 1, or a matrix of an `spd` type that is
        not symmetric positive definite. The report names the first such value.""",
    ),
    "GEO620": _code(
        "near-degenerate frame",
        """A warning of `geoc check`: a frame built by `frame(v1, ...)` was near-degenerate on
        the drawn inputs (two of its vectors almost parallel, or one almost zero). The margin
        printed is the smallest `|r_k| / |v_k|` seen, `r_k` the part of `v_k` orthogonal to the
        earlier vectors. Outputs stay finite (the normalisation is regularised), but near a
        degenerate frame a canonicalised model changes fast, and exactly at one it is not
        equivariant: a symmetric input has no unique orientation. Inputs with a well-defined
        orientation (no collinear or highly symmetric point sets) keep the margin large.""",
    ),
    "GEO621": _code(
        "frame not orthonormal",
        """`geoc check` found a `frame(n)` value whose columns are not orthonormal within the
        tolerance, on inputs where its vectors were well conditioned: a bug in the frame
        construction, please report it.""",
    ),
    "GEO630": _code(
        "declared breaking not observed",
        """A warning of `geoc check`: the model declares `breaks G by ...`, and is verified under
        the group that remains, but random elements of the whole declared group also left
        every output on its law. The model may not break what it declares (the declaration
        is then unnecessary: drop it to have the whole group verified), or the random inputs
        did not reach the breaking path. Where no operator reads a value named after `by` (every
        one was typed under the declared group), the help says so. The verdict under the
        remaining group stands.""",
    ),
    "GEO631": _code(
        "internal error while checking in the editor",
        """`geoc lsp` met a bug in geoc while checking the open spec (an exception that is not
        a diagnostic). It shows it as this diagnostic at the start of the file, instead of
        failing silently, and keeps serving; the other editor features still work. Please
        report it with the spec; `GEOC_DEBUG=1` in the server's environment prints the
        traceback to its log.""",
    ),
    # --- GEO61x: runtime inputs of a compiled module (docs/validation.md) ------------------------
    "GEO610": _input(
        "missing or unexpected input",
        """A compiled module was called without one of its spec's inputs (or `edge_index`, for
        a graph whose edges are given), or with a keyword it does not take. The message lists
        the inputs the model takes.""",
    ),
    "GEO611": _input(
        "input shape does not match its type",
        """An input's shape differs from what its declared type fixes: values over an axis are
        `[N, C]` with `C` the width of the type (e.g. 16 for `16 x scalar`, 3 for `vector`),
        global values `[C]` or one row per graph / sample, fields `[B, C, *grid]` (a sphere's
        grid as declared; a torus runs at any size), weight spaces the list `[W_1, b_1, ...]`.
        Sizes the spec leaves free (node counts, batch sizes) are never checked against a
        number.""",
    ),
    "GEO612": _input(
        "inputs disagree on a length",
        """Two inputs over the same axis have different lengths there (node counts, edges,
        samples of a batch), or `batch` has not one entry per node.""",
    ),
    "GEO613": _input(
        "input dtype",
        """A floating input's dtype differs from the module's (convert the input, or the module
        with `module.to(dtype)`), a feature input holds integers, or an `index(n)` input (integer
        labels) holds floating values or booleans: labels are integer tensors, `[N]` or
        `[N, 1]`, as ASE's `atoms.numbers` and PyTorch Geometric's `data.z` give them.""",
    ),
    "GEO614": _input(
        "edge_index layout",
        """`edge_index` must be an integer tensor `[2, E]` (row 0 the sources, row 1 the
        destinations, as in PyTorch Geometric) with node indices in `[0, N)`. An `[E, 2]`
        layout is refused, never read as `[2, E]`: pass `edge_index.t()`.""",
    ),
    "GEO615": _input(
        "batch vector",
        """`batch` must be an integer tensor `[N]` assigning each node its graph, with values
        in `[0, num_graphs)`.""",
    ),
    "GEO618": _input(
        "periodic cell",
        """A model with a periodic cell takes `cell`, `[graphs, 3, 3]` floating in the model's
        dtype with the lattice vectors as rows (`[3, 3]` for one graph, or one cell for every
        graph), and optionally `pbc`, `[graphs, 3]` booleans (default: periodic along every
        axis). A graph with any periodic axis needs three linearly independent lattice
        vectors (a slab: any vector out of the plane along its open axis); a graph with `pbc`
        all false (a molecule) may have any cell, zeros included.""",
    ),
    "GEO616": _input(
        "num_graphs",
        """`num_graphs` must be an int of at least 1 and larger than every entry of `batch`;
        without a `batch` every node is in one graph, so it can only be 1.""",
    ),
    "GEO619": _input(
        "integer label out of range",
        """An `index(n)` input holds a label outside `[0, n)`. Labels are indices into the
        learned table of `embed`: map atomic numbers to type indices first (e.g. with a lookup
        tensor `table[atoms.numbers]`), or compile with a larger `n`.""",
    ),
    "GEO622": _input(
        "torus grid too coarse for the Fourier modes",
        """A Fourier layer on a torus (`spectral_conv`) keeps `m` modes per axis: the
        frequencies `-m..m-1` along each axis but the last, `0..m-1` along the last (the real
        FFT's half spectrum). The grid of the field it transforms must hold them: at least
        `2m` points along each axis but the last and `2m - 2` along the last. The input's grid
        (or the coarser one a `restrict` made of it) is smaller. The message names the input
        and the smallest grid: give a finer grid, or compile with fewer `modes`
        (docs/spectral.md).""",
    ),
    "GEO662": _input(
        "sphere grid too coarse for the band limit",
        """A sphere model runs on any grid of its kind (`sphere_grid`) whose quadrature and
        longitudes hold its band limit (degrees `l < lmax`) exactly; its weights live on those
        degrees. The input's grid is coarser: an equiangular grid needs `nlat >= 2 lmax - 1`,
        a Gauss-Legendre grid `nlat >= lmax`, both `nlon >= 2 lmax - 1`. The message names
        the smallest grid that does: resample the input to it or a finer one
        (docs/spectral.md, "Other grids").""",
    ),
    "GEO636": _code(
        "bad check report",
        """`geoc graph --report FILE` reads the JSON that `geoc check SPEC --json FILE` writes
        and marks its `first_failure`. The file could not be read, is not JSON, or lacks that
        entry (a report from an older geoc, or another file). Write it again with
        `geoc check --json`, or let `geoc graph --check` run the check itself.""",
    ),
    "GEO637": _code(
        "check report of another model",
        """The report given to `geoc graph --report` checked another model, or blames a value
        the drawn IR does not have (other parameters, or another `--optimize` level renamed
        the rewritten nodes). Draw the spec with the `-p` values and `--optimize` level the
        check ran with.""",
    ),
    "GEO640": _input(
        "a graph too small for traced sampling",
        """A traced module (`torch.compile`, `torch.export`) keeps shapes independent of the
        data, so `fps(m)` takes exactly `m` centres from every graph (num_graphs * m rows). A
        graph with fewer than `m` points cannot give them: run the module eagerly (which takes
        all points of a smaller graph) or give every graph at least `m` points.""",
    ),
    "GEO641": _input(
        "padded weight space without its widths",
        """A `weightspace(..., padded=true)` input is the list of the network's tensors, each
        zero-padded to the declared maximum widths, followed by the true hidden widths: an
        integer tensor `[batch, hidden layers]` (one row per network). The list is shorter, or
        the widths are not such a tensor.""",
    ),
    "GEO642": _input(
        "hidden width out of range",
        """A true hidden width of a padded weight space is at least 1 and at most the maximum
        the domain declares for that layer: compile with larger maxima, or drop the network.""",
    ),
    "GEO643": _input(
        "tied layers of different widths",
        """Layers joined by a skip (`residual=`) add their outputs, so each network has one
        width for both; the widths tensor gives them different ones.""",
    ),
    "GEO644": _input(
        "weight-space inputs with different widths",
        """Under `padded=true` every layer masks the padding by one widths table, the first
        weight-space input's; another weight-space input of the same call gives other widths.
        Pass the same networks' widths with every weight-space input (the inputs describe one
        batch of networks), or call the model once per batch of equal widths.""",
    ),
    "GEO650": _input(
        "sequence longer than its position table",
        """`position_embedding(x, over=tokens, max_len=n)` has a learned vector for the
        positions `0 .. n-1`; a sequence of the input (the rows of one `batch` entry) is
        longer. Compile with a larger `max_len`, or split the sequence.""",
    ),
    "GEO651": _input(
        "causality law broken",
        """`geoc check` of a causal sequence changed every token after a position `t` drawn per
        sequence and found an output at or before `t` that changed. The static proof rules this
        out, so a lowering (or a kernel) mixes later tokens in: the report names the output and
        the largest change.""",
    ),
    "GEO657": _input(
        "grid size not divisible by the restriction",
        """A model that restricts its grid by `f` (through `restrict`, once or several times:
        `f` is the product) runs on grids whose sizes `f` divides: the blocks of `f` points
        must tile each dimension. Give inputs of such sizes (the declared grid's, or a
        multiple of `f`).""",
    ),
}


def all_codes() -> list[str]:
    return sorted(CODES)


def _check_table() -> None:
    for code in CODES:
        assert len(code) == 6 and code.startswith("GEO") and code[3:].isdigit(), code


_check_table()
