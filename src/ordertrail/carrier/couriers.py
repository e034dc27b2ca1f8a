"""Every courier ordertrail knows by slug: names in English and Chinese, country, tracking link.

A *courier* carries the parcel; a *provider* (``carrier.registry``) is where ordertrail learns
about it. Slugs of the couriers in the packaged tracking_number_data are its ``courier_code``;
the Chinese couriers use the short names people in the trade use (``sf``, ``zto``…).

``tracking_url`` is a template in which ``%s`` stands for the normalised number (the format
tracking_number_data uses). Chinese domestic couriers link to the kuaidi100 query page, which
works for all of them without a captcha or the receiver's phone digits that the couriers' own
pages ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

_KUAIDI100 = "https://www.kuaidi100.com/chaxun?com={com}&nu=%s"


@dataclass(frozen=True, slots=True)
class Courier:
    """One courier: ``country`` is ISO 3166 alpha-2, or None for an international standard."""

    slug: str
    name: str
    name_zh: str
    country: str | None
    tracking_url: str | None
    source: str  # "tracking_number_data" or "ordertrail" (the Chinese rules in detect.py)

    def url_for(self, number: str) -> str | None:
        """The tracking page for a normalised number, or None when there is no public one."""
        return self.tracking_url.replace("%s", number) if self.tracking_url else None


def _tnd(slug: str, name: str, name_zh: str, country: str | None,
         url: str | None) -> Courier:
    return Courier(slug, name, name_zh, country, url, "tracking_number_data")


def _cn(slug: str, name: str, name_zh: str, url: str | None) -> Courier:
    return Courier(slug, name, name_zh, "CN", url, "ordertrail")


_ALL: tuple[Courier, ...] = (
    # Chinese couriers (detection rules: detect.py, docs/carriers-detection.md).
    _cn("sf", "SF Express", "顺丰速运", _KUAIDI100.format(com="shunfeng")),
    _cn("jd", "JD Logistics", "京东物流", _KUAIDI100.format(com="jd")),
    _cn("yto", "YTO Express", "圆通速递", _KUAIDI100.format(com="yuantong")),
    _cn("zto", "ZTO Express", "中通快递", _KUAIDI100.format(com="zhongtong")),
    _cn("sto", "STO Express", "申通快递", _KUAIDI100.format(com="shentong")),
    _cn("yunda", "Yunda Express", "韵达快递", _KUAIDI100.format(com="yunda")),
    _cn("ems", "China Post EMS", "中国邮政 EMS", _KUAIDI100.format(com="ems")),
    _cn("jtexpress", "J&T Express", "极兔速递", _KUAIDI100.format(com="jtexpress")),
    _cn("deppon", "Deppon Express", "德邦快递", _KUAIDI100.format(com="debangkuaidi")),
    _cn("cainiao", "Cainiao", "菜鸟", "https://global.cainiao.com/detail.htm?mailNoList=%s"),
    # No number rule of its own (its parcels use S10 or EMS-like numbers); the providers name it.
    _cn("chinapost", "China Post", "中国邮政", _KUAIDI100.format(com="youzhengguonei")),
    # Couriers of tracking_number_data (URLs from its files where it has one).
    _tnd("yunexpress", "YunExpress", "云途物流", "CN",
         "https://www.yuntrack.com/parcelTracking?id=%s"),
    _tnd("s10", "S10 international post (UPU)", "万国邮联 S10 国际邮件", None, None),
    _tnd("ups", "UPS", "UPS", "US",
         "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=%s"),
    _tnd("usps", "United States Postal Service", "美国邮政", "US",
         "https://tools.usps.com/go/TrackConfirmAction?tLabels=%s"),
    _tnd("fedex", "FedEx", "联邦快递", "US",
         "https://www.fedex.com/apps/fedextrack/?tracknumbers=%s"),
    _tnd("dhl", "DHL", "敦豪", "DE",
         "http://www.dhl.com/en/express/tracking.html?brand=DHL&AWB=%s"),
    _tnd("amazon", "Amazon Logistics", "亚马逊物流", "US", None),
    _tnd("canada_post", "Canada Post", "加拿大邮政", "CA",
         "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s"),
    _tnd("canpar", "Canpar Express", "Canpar", "CA",
         "https://www.canpar.com/en/track/tracking.jsp?reference=%s&locale=en"),
    _tnd("dpd", "DPD", "DPD", "DE",
         "https://www.dpdgroup.com/nl/mydpd/my-parcels/track?lang=en&parcelNumber=%s"),
    _tnd("gofo", "GOFO Express", "GOFO", "US",
         "https://www.gofoexpress.com/tracking.html?searchID=%s"),
    _tnd("landmark", "Landmark Global", "Landmark Global", "BE",
         "https://track.landmarkglobal.com/?search=%s"),
    _tnd("lasership", "LaserShip", "LaserShip", "US", None),
    _tnd("old_dominion", "Old Dominion Freight Line", "Old Dominion", "US",
         "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers=%s"),
    _tnd("ontrac", "OnTrac", "OnTrac", "US", "http://www.ontrac.com/tracking/?number=%s"),
    _tnd("purolator", "Purolator", "Purolator", "CA",
         "https://www.purolator.com/en/shipping/tracker?searchValue=%s"),
    _tnd("speedee", "Spee-Dee Delivery", "Spee-Dee", "US",
         "https://www.speedeedelivery.com/track/?tracking=%s"),
    _tnd("yodel", "Yodel", "Yodel", "GB", "https://www.yodel.co.uk/tracking/%s"),
)

_BY_SLUG: dict[str, Courier] = {c.slug: c for c in _ALL}


def courier(slug: str) -> Courier | None:
    """The courier with this slug (case-insensitive), or None."""
    return _BY_SLUG.get(slug) or _BY_SLUG.get(slug.strip().lower())


def couriers() -> tuple[Courier, ...]:
    """Every known courier, Chinese couriers first."""
    return _ALL
