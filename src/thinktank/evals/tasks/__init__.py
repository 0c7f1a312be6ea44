"""Tasks: what a task is, how an answer to it is judged, and where tasks come from.

See README.md in this folder.
"""
