# Deep weight-space network (DWSNet): equivariant layers on the weights of an MLP, invariant head
# (Navon et al., 2023). Each layer commutes with permuting the neurons of every hidden layer of
# the input MLP; the input is one MLP per example, e.g. a SIREN-style implicit neural
# representation of an image (2 -> 32 -> 32 -> 1).
model DWSNet(channels: int = 16, depth: int = 3, width: int = 128, classes: int = 10) {
    symmetry S(hidden)
    domain weightspace(mlp=[2, 32, 32, 1])
    input w: scalar over weights
    h = w
    repeat depth {
        h = act(dws_linear(h, channels x scalar), relu)
    }
    output logits: classes x scalar = mlp(dws_pool(h), [width, classes], act=relu)
}
