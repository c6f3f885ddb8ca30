# Spherical-harmonic location encoder with SIREN layers (Rußwurm et al. 2024): absolute directions, O(3) declared broken.
# Rußwurm, Klemmer, Rolf, Zbinden, Tuia, "Geographic location encoding with spherical harmonics
# and sinusoidal representation networks" (arXiv:2310.06743): the real spherical harmonics of each
# location's direction up to degree `lmax`, then a SIREN (Sitzmann et al. 2020; the paper's
# SirenNet with w0_initial = 30, w0 = 1): `sin(w0 (W h + b))` per layer with SIREN's init, a
# linear last layer. The harmonics are an irrep of O(3), but a location encoder maps them to
# plain numbers: the absolute orientation of the Earth matters, so O(3) is declared broken and
# the model is typed and checked under the permutations of the locations that remain.
model SHEncoder(lmax: int = 9, hidden: int = 64, depth: int = 2, out: int = 16) {
    symmetry O(3) x S(points)
    breaks O(3) by u
    domain set(points)
    input u: vector over points  # the unit direction of each location on the sphere
    sh = spherical_harmonics(u, lmax=lmax)
    first = linear(sh, hidden x scalar, init=siren_first, bias_init=siren_first)
    h = act(30.0 * first, sin)
    repeat depth - 1 {
        h = act(linear(h, hidden x scalar, init=siren, bias_init=siren), sin)
    }
    output y: out x scalar over points = linear(h, out x scalar, init=siren, bias_init=siren)
}
