"""Pixel-model inference: one step-by-step engine behind exact sampling and exact in-painting."""
