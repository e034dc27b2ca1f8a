"""17TRACK (API v2.2): registration, pushes and polling for couriers worldwide."""
