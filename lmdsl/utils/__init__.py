"""Small shared helpers that import nothing from lmdsl above them: paths, usage counting, secret
scrubbing, thread pools, progress lines. Every layer may use them."""
