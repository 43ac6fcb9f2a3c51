"""The e2e tests use the `system` fixture of the devstack plugin (tools/devstack/src/devstack/testing.py)."""
