"""The fastapi-issues benchmark: `python -m bench --help`. See bench/README.md."""
