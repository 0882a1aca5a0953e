"""Quantization: recipes (registry), calibration data, QAT and the accuracy-aware int8 search."""
