"""The simulated carrier: realistic journeys served over HTTP, pushed as signed webhooks.

Used by the demo, the tests and local development; it never reaches the internet. See
``docs/carriers/sim.md``.
"""
