"""Runs: many tasks through many graphs, each job run by a worker and recorded.

See README.md in this folder.
"""
