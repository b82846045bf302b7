"""Training: multi-task sampling, seeded batch order, the accelerate loop, resumable checkpoints."""
