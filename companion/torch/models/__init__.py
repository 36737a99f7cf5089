"""Small model builders assembled from the package's torch layers (one module per family)."""
