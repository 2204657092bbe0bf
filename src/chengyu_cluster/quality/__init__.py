"""The quality gate: a candidate compared with the published version (quality/gate.yml)."""
