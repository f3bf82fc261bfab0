"""The clinicians HTTP API (FastAPI) and the CLI client of it."""
