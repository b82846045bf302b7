"""Phases and experiments: pretrained → intermediate → target → zero-shot evaluation; results rows."""
