"""Choreoscope catalog: schema registry, compatibility, validation, event catalog and map."""
