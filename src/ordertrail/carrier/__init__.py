"""Carriers: the unified status language, provider plugins, courier detection."""
