"""Demo data for `ordertrail demo`: users with keys, months of realistic orders and their
parcels, and the simulated carrier the served demo ships new parcels with."""
