"""The sequence family: positions along a sequence axis (rotary, learned position embeddings)
and the causality law of ``geoc check`` (``verify.py``)."""
