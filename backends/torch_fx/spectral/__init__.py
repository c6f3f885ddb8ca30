"""The spectral family: Fourier and spherical-harmonic transforms, their plans and kernels."""
