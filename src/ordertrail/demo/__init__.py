"""Demo data for `ordertrail demo`: users with keys and months of realistic orders."""
