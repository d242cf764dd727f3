"""Stores that keep every record in the process: in memory, and in a JSON file on disk."""
