"""HAM and sHAM entropy-coded matrices (package under construction)."""
