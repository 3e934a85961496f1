"""Sportello: an API-first help desk."""
