"""The torch.fx backend: lowering rules, runtime kernels, export, numeric verification.

Layout (an operator family's backend sits in one folder named like ``geoc.ops.<family>``)::

    api.py        compile(): front end, then lower()
    lower.py      the driver: LowerCtx, the @lowering registry, load_lowerings(), placeholders,
                  edges; names no operator and no domain kind
    validate.py   the runtime input checks at the top of every module (validate=False: none);
                  their kernels are common/validate_kernels.py, exported like the others
    export.py     a compiled module as a folder that runs on torch alone: every
                  <folder>/*kernels.py is copied as geoc_runtime*.py
    common/       kernels.py: edges, scatter, pools, broadcast, graph counting, safe_norm,
                  install (the domain-independent kernels every family may call)
    <family>/     core, graph, gcnn, o3, spectral, manifold, weightspace, solver; each has
                  lower.py (its lowering rules, registered on import), kernels.py where it
                  has torch-only kernels, and plan tables built at compile time:
                  o3/         tp_conv.py (tp_conv's algorithms and costs), escn.py (SO(2) tables
                              and cost model), tp_plan.py, tp_kernels.py, so2_kernels.py
                  spectral/   plan.py (SHT tables), rotation.py (band-limited sphere rotations)
                  manifold/   verify.py (membership), riemannian.py (geoopt hand-off)
                  rewritten/  the optimiser's operators; csr_kernels.py: sparse products over
                              the edges (attention's scores and weighted sums)
    domains/      one module per domain kind (points: global/set/graph/pointcloud, fields:
                  torus/sphere, weightspace): extra inputs, output layout, sampled inputs
                  and elements, actions on inputs, exact laws; rules_of(ir) finds them
    verify/       geoc check: report, actions, edges, recorder, blame, check; names no
                  operator and no domain kind

A new family adds a folder with ``lower.py`` (and ``kernels.py``): the driver imports every
``*/lower.py`` and the export copies every ``*/*kernels.py``; add the folder to the packages
list in pyproject.toml.
"""
