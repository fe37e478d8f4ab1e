"""Ground truth P(ℓ|i): a reader for operator maps and a radio-network simulator."""
