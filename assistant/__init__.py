"""Multimodal shopping assistant: catalogue → encoders → Qdrant index → fusion retrieval → agent."""

__version__ = "0.1.0"
