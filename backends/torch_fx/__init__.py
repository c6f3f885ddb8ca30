"""The torch.fx backend: lowering rules, runtime kernels, export, numeric verification."""
