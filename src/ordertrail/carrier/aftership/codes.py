"""AfterShip's code tables: tags, subtags and courier slugs in ordertrail's language.

Sources (see docs/carriers/aftership.md): AfterShip Tracking API "Delivery Statuses" and
"Delivery Sub-statuses" enum pages, and the AfterShip help-centre list of sub-statuses added
in 2026. A subtag not listed here falls back to ``<its tag>.unknown`` and is counted.
"""

from __future__ import annotations

from ordertrail.carrier.status import substatus

# A tag on its own (no subtag, or a subtag we do not know) means "this status, no detail".
TAGS: dict[str, str] = {
    "Pending": substatus("pending", "other"),
    "InfoReceived": substatus("info_received", "other"),
    "InTransit": substatus("in_transit", "other"),
    "OutForDelivery": substatus("out_for_delivery", "other"),
    "AttemptFail": substatus("attempt_fail", "other"),
    "Delivered": substatus("delivered", "other"),
    "AvailableForPickup": substatus("available_for_pickup", "other"),
    "Exception": substatus("exception", "other"),
    # AfterShip's definition of Expired is "no tracking information for 30 days".
    "Expired": substatus("expired", "no_update"),
}

# Tag -> our status, for ``<status>.unknown`` when a subtag under a known tag is not mapped.
TAG_STATUS: dict[str, str] = {tag: sub.split(".", 1)[0] for tag, sub in TAGS.items()}

SUBTAGS: dict[str, str] = {
    # "No information available on the carrier website or the number is yet to be tracked".
    "Pending_001": substatus("pending", "not_found"),
    # "The carrier received a request from the shipper and is about to pick up the shipment".
    "InfoReceived_001": substatus("info_received", "label_created"),
    "InTransit_001": substatus("in_transit", "other"),               # in transit
    "InTransit_002": substatus("in_transit", "picked_up"),           # acceptance scan
    "InTransit_003": substatus("in_transit", "arrived"),             # arrival scan
    "InTransit_004": substatus("in_transit", "arrived"),             # in destination country
    "InTransit_005": substatus("in_transit", "customs_released"),    # customs clearance completed
    "InTransit_006": substatus("in_transit", "customs_processing"),  # customs clearance started
    "InTransit_007": substatus("in_transit", "departed"),            # departure scan
    "InTransit_008": substatus("in_transit", "other"),               # problem resolved
    "InTransit_009": substatus("in_transit", "forwarded"),           # forwarded to another address
    "OutForDelivery_001": substatus("out_for_delivery", "out_for_delivery"),
    # Legacy subtag "arrived at sorting center and is available for pickup"; AfterShip later
    # moved this meaning to its own tag, so the subtag's meaning wins over its prefix.
    "OutForDelivery_002": substatus("available_for_pickup", "other"),
    "OutForDelivery_003": substatus("out_for_delivery", "contact_customer"),
    "OutForDelivery_004": substatus("out_for_delivery", "appointment"),
    "AttemptFail_001": substatus("attempt_fail", "other"),           # failed attempt
    "AttemptFail_002": substatus("attempt_fail", "no_one_home"),     # addressee not available
    "AttemptFail_003": substatus("attempt_fail", "business_closed"),
    "Delivered_001": substatus("delivered", "other"),
    "Delivered_002": substatus("delivered", "picked_up"),            # picked up by the customer
    "Delivered_003": substatus("delivered", "signed"),               # signed by the customer
    "Delivered_004": substatus("delivered", "cod_collected"),        # cash on delivery collected
    "Delivered_005": substatus("delivered", "signed_by_proxy"),      # delivered to a neighbour
    "AvailableForPickup_001": substatus("available_for_pickup", "other"),
    "Exception_001": substatus("exception", "other"),
    "Exception_002": substatus("exception", "address_issue"),        # customer moved
    "Exception_003": substatus("exception", "refused"),              # customer refused delivery
    "Exception_004": substatus("exception", "customs_held"),         # delayed (customs clearance)
    "Exception_005": substatus("exception", "delayed"),              # delayed (external factors)
    # "Held for payment": usually duties, but AfterShip does not say so; no finer substatus.
    "Exception_006": substatus("exception", "other"),
    "Exception_007": substatus("exception", "address_issue"),        # incorrect address
    "Exception_008": substatus("exception", "other"),                # pick-up missed
    "Exception_009": substatus("exception", "other"),                # rejected by carrier
    "Exception_010": substatus("exception", "returning"),            # returning to sender
    "Exception_011": substatus("exception", "returned"),             # returned to sender
    "Exception_012": substatus("exception", "damaged"),
    "Exception_013": substatus("exception", "lost"),
    # Added by AfterShip for shipments tracked from 2026-03-27 (help-centre announcement).
    "Exception_016": substatus("exception", "delayed"),              # processing issue
    "Exception_017": substatus("exception", "delayed"),              # extreme weather
    "Exception_018": substatus("exception", "customs_held"),         # incorrect/missing documents
    "Exception_019": substatus("exception", "delayed"),              # late flight
    "Exception_020": substatus("exception", "cancelled"),
    "Exception_021": substatus("exception", "destroyed"),            # disposed
    "Expired_001": substatus("expired", "no_update"),
}

# AfterShip courier slug -> ordertrail courier slug. Ours follow the brief for Chinese couriers
# and the file names of the tracking-number data set for the others.
COURIERS: dict[str, str] = {
    "sf-express": "sf",
    "yto": "yto",
    "zto-express": "zto",
    "sto": "sto",
    "yunda": "yunda",
    "china-ems": "ems",
    "jd": "jd",
    "jtexpress": "jtexpress",
    "deppon": "deppon",
    "cainiao": "cainiao",
    "ups": "ups",
    "usps": "usps",
    "fedex": "fedex",
    "dhl": "dhl",
    "canada-post": "canada_post",
    "canpar": "canpar",
    "dpd": "dpd",
    "lasership": "lasership",
    "ontrac": "ontrac",
    "purolator": "purolator",
    "yodel": "yodel",
    "yunexpress": "yunexpress",
}

# Where a checkpoint time without an offset is read, by ISO 3166 alpha-3 country. Only
# countries with one civil time (or one that nearly all parcels see); the US, Canada,
# Australia, Russia, Brazil, Mexico and Indonesia are left out on purpose.
COUNTRY_TZ: dict[str, str] = {
    "CHN": "Asia/Shanghai", "HKG": "Asia/Hong_Kong", "MAC": "Asia/Macau",
    "TWN": "Asia/Taipei", "JPN": "Asia/Tokyo", "KOR": "Asia/Seoul",
    "SGP": "Asia/Singapore", "MYS": "Asia/Kuala_Lumpur", "THA": "Asia/Bangkok",
    "VNM": "Asia/Ho_Chi_Minh", "PHL": "Asia/Manila", "IND": "Asia/Kolkata",
    "ARE": "Asia/Dubai", "SAU": "Asia/Riyadh", "ISR": "Asia/Jerusalem",
    "TUR": "Europe/Istanbul", "GBR": "Europe/London", "IRL": "Europe/Dublin",
    "FRA": "Europe/Paris", "DEU": "Europe/Berlin", "NLD": "Europe/Amsterdam",
    "BEL": "Europe/Brussels", "LUX": "Europe/Luxembourg", "CHE": "Europe/Zurich",
    "AUT": "Europe/Vienna", "ITA": "Europe/Rome", "ESP": "Europe/Madrid",
    "PRT": "Europe/Lisbon", "POL": "Europe/Warsaw", "CZE": "Europe/Prague",
    "SWE": "Europe/Stockholm", "NOR": "Europe/Oslo", "DNK": "Europe/Copenhagen",
    "FIN": "Europe/Helsinki", "GRC": "Europe/Athens", "HUN": "Europe/Budapest",
    "ROU": "Europe/Bucharest", "NZL": "Pacific/Auckland", "ZAF": "Africa/Johannesburg",
}

# Couriers whose checkpoints, without an offset and without a country, are in their home time.
COURIER_TZ: dict[str, str] = {
    slug: "Asia/Shanghai"
    for slug in ("sf", "yto", "zto", "sto", "yunda", "ems", "jd", "jtexpress", "deppon",
                 "cainiao")
}
