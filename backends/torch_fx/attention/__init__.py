"""The attention family's lowerings: softmax over sets of messages."""
