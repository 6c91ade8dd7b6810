"""The ScaleNet method, independent of the architecture: layer maps, adapters, shared positions, policies."""
