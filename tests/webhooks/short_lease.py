"""Imported by the kill test's worker (``ordertrail worker --import tests.webhooks.short_lease``):
endpoint leases of 2 s, so the restarted worker takes over the killed one's endpoints without
waiting the default 30 s."""

from datetime import timedelta

from ordertrail.webhooks import deliver

deliver.LEASE = timedelta(seconds=2)
