"""The assistant on the wire: FastAPI app, WebSocket chat, SSE, tool-call API."""
