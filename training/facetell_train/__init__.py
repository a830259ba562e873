"""Training code for facetell's face-swap classifier (see training/README.md)."""
