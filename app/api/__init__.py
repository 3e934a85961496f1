"""HTTP: routers, schemas, dependencies and problem details. The only room that imports FastAPI."""
