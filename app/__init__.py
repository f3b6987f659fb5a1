"""The HTTP layer of backprop-service: FastAPI routes over the schemas and the engine."""
