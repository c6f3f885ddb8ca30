"""The group-convolution family: lowerings and kernels of regular-representation layers."""
