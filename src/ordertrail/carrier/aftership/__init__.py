"""AfterShip: signed tracking webhooks (push only) mapped into ordertrail's status language."""
