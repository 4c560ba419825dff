"""Adapters: implementations of the core's ports, one family per technology."""
