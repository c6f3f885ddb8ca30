"""The graph family's lowerings: gather, scatter and pooling over edges and axes."""
