"""One module per domain kind: its runtime inputs, sampled group elements and actions."""
