"""The panel estimator: the constrained fit and its Monte Carlo draws (docs/estimator.md)."""
