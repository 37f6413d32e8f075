"""Encoders: text, image and sparse keyword vectors, one small interface for each kind."""
