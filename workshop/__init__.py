"""Workshops: one server, a room of learners, JupyterHub, a root grader service, a live dashboard."""
