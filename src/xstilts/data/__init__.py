"""Data: example types, readers (files, HF hub), label files, and the loader that binds a task to them."""
