"""The core family's lowerings: linear maps, MLPs, activations, elementwise arithmetic."""
