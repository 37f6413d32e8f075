"""Catalogues: the generic product schema and the readers that map files onto it."""
