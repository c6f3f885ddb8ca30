"""Backends that lower the typed IR (torch.fx)."""
