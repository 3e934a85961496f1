"""The rules of the business, in plain Python (standard library only)."""
