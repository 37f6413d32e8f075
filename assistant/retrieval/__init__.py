"""Retrieval: query understanding, fusion of modalities, and the search that explains its hits."""
