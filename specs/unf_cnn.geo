# UNF on CNN weight spaces: equivariant layers on the kernels and biases of a small CNN, invariant pooling, MLP head predicting one scalar per network (e.g. its test accuracy)
# (Zhou et al., "Permutation Equivariant Neural Functionals" and "Universal Neural Functionals",
# 2023). Each layer commutes with permuting the channels of every hidden conv layer of the
# input CNN (rows of K_i and b_i, input channels of K_(i+1), columns of the head through the
# global average pooling); the 3 x 3 kernel offsets are features no permutation moves. Input:
# [K_1, b_1, ..., K_L, b_L, W_head, b_head], PyTorch state-dict tensors stacked over networks;
# `-p padded=true` takes networks of several widths, zero-padded, then their widths.
model UNFCNN(convs = [1, 8, 8, 8], kernel: int = 3, head = [10], padded: bool = false,
             channels: int = 8, depth: int = 2, width: int = 64) {
    symmetry S(hidden)
    domain weightspace(cnn=convs, kernel=kernel, head=head, padded=padded)
    input w: scalar over weights
    h = w
    repeat depth {
        h = act(dws_linear(h, channels x scalar), relu)
    }
    output score: scalar = mlp(dws_pool(h), [width, 1], act=relu)
}
