"""Chengdu-Chongqing equipment cluster warehouse: build, check and publish."""
