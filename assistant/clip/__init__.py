"""The catalogue CLIP: building, loading, training and exporting an open_clip dual encoder."""
