"""The desired state: catalogue, policy, Dockerfiles, definition hashes, graph, validate, plan, import."""
