"""EasyPost: signed tracker webhooks (push only) mapped into ordertrail's status language."""
