"""Carepath: workers."""
