# An SFNO-style neural operator on the sphere (Bonev et al., ICML 2023), for
# docs/tutorials/sphere_operator.md: a lift to `width` channels, `depth` spherical Fourier
# layers (a convolution per degree l in spectral space, plus a pointwise skip), a projection,
# and the input added back so that the network learns the change of the field.
model SphereOperator(width: int = 16, depth: int = 3) {
    symmetry SO(3)
    domain sphere(nlat=32, nlon=64, grid=equiangular)
    input u: scalar over sphere
    z = linear(u, width x scalar)
    repeat depth {
        z = act(z + sfno_conv(z, width x scalar), gelu)
    }
    output v: scalar over sphere = u + linear(z, scalar)
}
