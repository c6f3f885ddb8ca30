# Aether (Kofinas et al. 2023): E(3)-equivariant message passing on particles plus a learned field of absolute position; E(3) declared broken.
# Kofinas, Bekkers, Nagaraja, Gavves, "Latent Field Discovery in Interacting Dynamical Systems with
# Neural Fields" (NeurIPS 2023, arXiv:2310.20679): particles interact through an equivariant graph
# network (here EGNN layers with velocities, Satorras et al. 2021), and a global field - a neural
# field of each particle's absolute position, scaled by the particle's own invariant "charge" -
# adds a force the pairwise interactions cannot explain (gravity, a magnetic field). The field
# reads absolute positions through an mlp, which breaks rotations and translations alike: the
# model declares E(3) broken by `at`, the name through which the field alone reads the positions,
# so the interactions are still typed and compiled under E(3); the model is checked under the
# permutations of the particles that remain.
model Aether(features: int = 2, hidden: int = 32, depth: int = 3, field: int = 64) {
    symmetry E(3) x S(particles)
    breaks E(3) by at
    domain pointcloud(particles, dim=3, edges=full)
    input h: features x scalar over particles  # e.g. charges
    input x: point(3) over particles
    input v: vector over particles  # velocities
    s = linear(concat(h, sqnorm(v)), hidden x scalar)
    y = x
    repeat depth {
        r = y[dst] - y[src]  # vector over edges: the interactions stay E(3)-equivariant
        m = mlp(concat(s[dst], s[src], sqnorm(r)), [hidden, hidden], act=silu, last_act=true)
        y = y + mean(r * mlp(m, [hidden, 1], act=silu), over=edges, into=particles)
        s = s + mlp(concat(s, sum(m, over=edges, into=particles)), [hidden, hidden], act=silu)
    }
    local = y - x  # vector over particles: the interactions' displacement
    at = x  # the absolute positions, read by the field alone
    force = mlp(at, [field, field, 3], act=silu)  # the latent field at each absolute position
    charge = mlp(s, [hidden, 1], act=silu)
    output acc: vector over particles = local + charge * force
}
