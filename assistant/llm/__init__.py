"""The language model: which one words the answers (embedded, an endpoint, or none)."""
