"""Reference data of the simulated journeys: couriers, cities, hubs, and the people on the way.

Real couriers (with what each calls a sorting hub and a delivery station) and real cities
with their fixed UTC offsets, so that plans need no time-zone database. Pure data and lookups.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Courier:
    zh: str
    en: str
    domestic: bool
    hub: str = "转运中心"        # what this courier calls a sorting hub
    station: str = "营业部"      # and a delivery station


COURIERS: dict[str, Courier] = {
    "sf": Courier("顺丰速运", "SF Express", True, "中转场", "营业点"),
    "jd": Courier("京东快递", "JD Logistics", True, "分拣中心", "营业部"),
    "zto": Courier("中通快递", "ZTO Express", True, "分拨中心", "网点"),
    "yto": Courier("圆通速递", "YTO Express", True, "转运中心", "网点"),
    "sto": Courier("申通快递", "STO Express", True, "转运中心", "网点"),
    "yunda": Courier("韵达快递", "Yunda Express", True, "分拨中心", "网点"),
    "ems": Courier("中国邮政EMS", "China Post EMS", True, "邮件处理中心", "揽投部"),
    "jtexpress": Courier("极兔速递", "J&T Express", True, "转运中心", "网点"),
    "deppon": Courier("德邦快递", "Deppon Express", True, "枢纽中心", "营业部"),
    "cainiao": Courier("菜鸟速递", "Cainiao", True, "分拨中心", "驿站"),
    "dhl": Courier("DHL", "DHL Express", False),
    "fedex": Courier("联邦快递", "FedEx", False),
    "ups": Courier("UPS", "UPS", False),
}
SIM_COURIER = Courier("模拟快递", "Sim Express", True)


@dataclass(frozen=True, slots=True)
class City:
    zh: str
    en: str
    region_zh: str       # province for China, country name otherwise
    country: str         # ISO 3166 alpha-2
    utc_offset: int      # hours; fixed, so plans need no time-zone database
    area: str = ""       # Chinese logistics area: picks line-haul and gateway hubs


def _cn(zh: str, en: str, province: str, area: str) -> City:
    return City(zh, en, province, "CN", 8, area)


CN_CITIES: tuple[City, ...] = (
    _cn("北京", "Beijing", "北京", "north"), _cn("天津", "Tianjin", "天津", "north"),
    _cn("上海", "Shanghai", "上海", "east"), _cn("杭州", "Hangzhou", "浙江", "east"),
    _cn("义乌", "Yiwu", "浙江", "east"), _cn("宁波", "Ningbo", "浙江", "east"),
    _cn("苏州", "Suzhou", "江苏", "east"), _cn("南京", "Nanjing", "江苏", "east"),
    _cn("青岛", "Qingdao", "山东", "north"), _cn("广州", "Guangzhou", "广东", "south"),
    _cn("深圳", "Shenzhen", "广东", "south"), _cn("东莞", "Dongguan", "广东", "south"),
    _cn("厦门", "Xiamen", "福建", "south"), _cn("泉州", "Quanzhou", "福建", "south"),
    _cn("武汉", "Wuhan", "湖北", "central"), _cn("郑州", "Zhengzhou", "河南", "central"),
    _cn("长沙", "Changsha", "湖南", "central"), _cn("成都", "Chengdu", "四川", "west"),
    _cn("重庆", "Chongqing", "重庆", "west"), _cn("西安", "Xi'an", "陕西", "west"),
    _cn("昆明", "Kunming", "云南", "west"), _cn("沈阳", "Shenyang", "辽宁", "northeast"),
    _cn("哈尔滨", "Harbin", "黑龙江", "northeast"),
)
FOREIGN_CITIES: tuple[City, ...] = (
    City("洛杉矶", "Los Angeles", "美国", "US", -8), City("纽约", "New York", "美国", "US", -5),
    City("多伦多", "Toronto", "加拿大", "CA", -5), City("伦敦", "London", "英国", "GB", 0),
    City("法兰克福", "Frankfurt", "德国", "DE", 1), City("巴黎", "Paris", "法国", "FR", 1),
    City("马德里", "Madrid", "西班牙", "ES", 1), City("阿姆斯特丹", "Amsterdam", "荷兰", "NL", 1),
    City("东京", "Tokyo", "日本", "JP", 9), City("首尔", "Seoul", "韩国", "KR", 9),
    City("新加坡", "Singapore", "新加坡", "SG", 8), City("悉尼", "Sydney", "澳大利亚", "AU", 11),
    City("迪拜", "Dubai", "阿联酋", "AE", 4), City("圣保罗", "São Paulo", "巴西", "BR", -3),
)
_BY_NAME = {name.lower(): c for c in CN_CITIES + FOREIGN_CITIES for name in (c.zh, c.en)}
# International air gateways and the central line-haul hubs, by area.
GATEWAY = {"south": "深圳", "east": "上海", "north": "北京", "northeast": "北京",
           "west": "成都", "central": "郑州"}
MIDDLE_HUBS = ("郑州", "武汉", "长沙", "南京")
COURIERS_ON_FOOT = ("王师傅", "李师傅", "张师傅", "刘师傅", "陈师傅", "杨师傅", "赵师傅", "黄师傅")
COMMUNITIES = ("阳光花园", "锦绣家园", "翠苑小区", "华府天地", "滨江公寓", "金色港湾", "幸福里")
RECIPIENTS = ("J. SMITH", "M. GARCIA", "A. MÜLLER", "K. TANAKA", "S. KIM", "L. MARTIN",
              "R. SILVA", "E. BROWN")


def find_city(name: str) -> City:
    """The city called ``name`` (Chinese or English); an unknown one is kept as given."""
    key = name.strip().lower()
    found = _BY_NAME.get(key) or _BY_NAME.get(key.removesuffix("市"))
    if found:
        return found
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in name)
    if chinese:
        return City(name.strip().removesuffix("市"), name.strip(), "", "CN", 8, "central")
    return City(name.strip(), name.strip(), "", "", 0)


def known_city(name: str) -> City:
    """A city of the tables above, by its Chinese or English name."""
    return _BY_NAME[name.lower()]
