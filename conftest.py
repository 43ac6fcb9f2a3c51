"""Every test gets the real stack through the devstack plugin (see tools/devstack/src/devstack/testing.py)."""

pytest_plugins = ["devstack.testing"]
