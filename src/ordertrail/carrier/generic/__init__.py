"""The ``generic`` provider: ordertrail's own documented JSON event format, signed with HMAC.

For in-house fleets, 3PLs and warehouse systems that can push to a URL. See
``docs/carriers/generic.md``.
"""
