"""The engine: data, the model zoo, the training loop, run records, files and the workspace guard."""
