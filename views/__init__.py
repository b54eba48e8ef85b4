"""Blueprints: pages, the JSON API, the live event stream and file downloads."""
