"""Adversarial attacks on spiking models: gradient estimator x optimizer x threat model x loss."""
