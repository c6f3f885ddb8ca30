# Spherical Fourier Neural Operator (Bonev et al., 2023).
model SFNO(channels: int = 3, width: int = 32, depth: int = 4) {
    symmetry SO(3)
    domain sphere(nlat=32, nlon=64, grid=equiangular)
    input u: channels x scalar over sphere
    z = linear(u, width x scalar)
    repeat depth {
        z = act(z + sfno_conv(z, width x scalar), gelu)
    }
    output v: channels x scalar over sphere = linear(z, channels x scalar)
}
