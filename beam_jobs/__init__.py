"""Beam graphs and their command lines; they compose the pure pieces in `pipeline/`."""
