"""Agents: the tool-calling loop, roles, prompts and trajectories."""
