"""The sheaf family's lowerings: restriction maps and the sheaf diffusion step."""
