"""Carepath: activities."""
