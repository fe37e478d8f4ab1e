"""Inputs: base-station deployments, the bundled catalog and regions of interest."""
