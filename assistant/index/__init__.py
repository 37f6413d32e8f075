"""The product index: one small interface, two real Qdrant engines (embedded edge, server)."""
