"""Operation handlers, one module per family, registered by Operation."""
