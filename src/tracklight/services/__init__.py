"""Domain rules: validation, limits, run lifecycle; the layer between the wire and the store."""
