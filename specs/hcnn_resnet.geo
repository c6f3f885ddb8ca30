# HCNN ResNet, the fully hyperbolic CNN in the Lorentz model (Bdeir, Schwethelm and Landwehr 2024): Lorentz convolutions, batch norms and ReLUs in residual blocks, centroid pooling, Lorentz MLR; exactly shift-equivariant on the torus, T(2).
# The pixels are lifted onto the hyperboloid (`expmap0`); the input block is a Lorentz
# convolution, a Lorentz batch norm and a Lorentz ReLU; each residual block (the paper's ResNet
# basic block without striding: the grid keeps its resolution) is conv, BN, ReLU, conv, BN,
# joined to its input by the Lorentz residual (space parts added, time recomputed) and a ReLU;
# the global pooling is the Lorentzian centroid of every grid point, the head a Lorentz MLR.
# Circular padding makes each layer commute with every cyclic shift (docs/manifolds.md).
model HCNNResNet(
    channels: int = 3,
    width: int = 16,
    depth: int = 2,
    kernel: int = 3,
    classes: int = 10,
    k: float = 1.0,
) {
    symmetry T(2)
    domain torus(32, 32)
    input img: channels x scalar over torus
    h = expmap0(img, manifold=lorentz(channels, k=k))
    h = lorentz_act(lorentz_batch_norm(lorentz_conv(h, width, kernel=kernel)), relu)
    repeat depth {
        r = lorentz_act(lorentz_batch_norm(lorentz_conv(h, width, kernel=kernel)), relu)
        r = lorentz_batch_norm(lorentz_conv(r, width, kernel=kernel))
        h = lorentz_act(lorentz_residual(r, h), relu)
    }
    output logits: classes x scalar = lorentz_mlr(lorentz_centroid(h, over=torus), classes)
}
