"""Carepath: workflows."""
