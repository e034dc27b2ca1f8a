"""Kuaidi100 (快递100) code tables: logistics states, company codes, push stop rules.

Sources (see docs/carriers/kuaidi100.md): the state table published with Kuaidi100's push and
query documentation (basic ``state`` 0-14 and, with ``resultv2=4``, the advanced values
101-103, 1001-1003, 201-210, 301-304, 401, 501) and the company codes of its code list.
"""

from __future__ import annotations

from ordertrail.carrier.status import Status, substatus

# Kuaidi100 code -> (Chinese name as documented, unified substatus).
STATES: dict[str, tuple[str, str]] = {
    # 揽收 family
    "1": ("揽收", substatus(Status.IN_TRANSIT, "picked_up")),
    "101": ("已下单", substatus(Status.INFO_RECEIVED, "label_created")),
    "102": ("待揽收", substatus(Status.INFO_RECEIVED, "other")),
    "103": ("已揽收", substatus(Status.IN_TRANSIT, "picked_up")),
    # 在途 family
    "0": ("在途", substatus(Status.IN_TRANSIT, "other")),
    "1001": ("到达派件城市", substatus(Status.IN_TRANSIT, "arrived")),
    "1002": ("干线", substatus(Status.IN_TRANSIT, "other")),
    "1003": ("转递", substatus(Status.IN_TRANSIT, "forwarded")),
    # 派件 family
    "5": ("派件", substatus(Status.OUT_FOR_DELIVERY, "out_for_delivery")),
    "501": ("投柜或驿站", substatus(Status.AVAILABLE_FOR_PICKUP, "other")),
    # 签收 family
    "3": ("签收", substatus(Status.DELIVERED, "other")),
    "301": ("本人签收", substatus(Status.DELIVERED, "signed")),
    "302": ("派件异常后签收", substatus(Status.DELIVERED, "signed")),
    "303": ("代签", substatus(Status.DELIVERED, "signed_by_proxy")),
    "304": ("投柜或站签收", substatus(Status.DELIVERED, "picked_up")),
    # 退回 / 退签 / 拒签
    "6": ("退回", substatus(Status.EXCEPTION, "returning")),
    "4": ("退签", substatus(Status.EXCEPTION, "returned")),
    "401": ("已销单", substatus(Status.EXCEPTION, "cancelled")),
    "14": ("拒签", substatus(Status.EXCEPTION, "refused")),
    # 转投
    "7": ("转投", substatus(Status.IN_TRANSIT, "forwarded")),
    # 疑难 family
    "2": ("疑难", substatus(Status.EXCEPTION, "other")),
    "201": ("超时未签收", substatus(Status.EXCEPTION, "delayed")),
    "202": ("超时未更新", substatus(Status.EXCEPTION, "delayed")),
    "203": ("拒收", substatus(Status.EXCEPTION, "refused")),
    "204": ("派件异常", substatus(Status.ATTEMPT_FAIL, "other")),
    "205": ("柜或驿站超时未取", substatus(Status.EXCEPTION, "other")),
    "206": ("无法联系", substatus(Status.EXCEPTION, "no_one_home")),
    "207": ("超区", substatus(Status.EXCEPTION, "address_issue")),
    "208": ("滞留", substatus(Status.EXCEPTION, "delayed")),
    "209": ("破损", substatus(Status.EXCEPTION, "damaged")),
    "210": ("销单", substatus(Status.EXCEPTION, "cancelled")),
    # 清关 family
    "8": ("清关", substatus(Status.IN_TRANSIT, "customs_processing")),
    "10": ("待清关", substatus(Status.IN_TRANSIT, "customs_processing")),
    "11": ("清关中", substatus(Status.IN_TRANSIT, "customs_processing")),
    "12": ("已清关", substatus(Status.IN_TRANSIT, "customs_released")),
    "13": ("清关异常", substatus(Status.EXCEPTION, "customs_held")),
}

# The per-checkpoint ``status`` name (resultv2=1 sends only the name) -> code.
NAMES: dict[str, str] = {name: code for code, (name, _) in STATES.items()}
NAMES["转单"] = "7"  # older documents call state 7 转单

# An unknown code falls back by its family (the documented codes are hierarchical: 1xx under
# 揽收, 2xx under 疑难, …). Families that promise nothing certain fall back low.
_FAMILY: dict[str, Status] = {
    "1": Status.INFO_RECEIVED,       # 1xx 揽收: between ordered and picked up
    "2": Status.EXCEPTION,           # 2xx 疑难
    "3": Status.DELIVERED,           # 3xx 签收
    "4": Status.EXCEPTION,           # 4xx 退签
    "5": Status.OUT_FOR_DELIVERY,    # 5xx 派件
    "6": Status.EXCEPTION,           # 6xx 退回
    "7": Status.IN_TRANSIT,          # 7xx 转投
    "8": Status.IN_TRANSIT,          # 8xx 清关
    "100": Status.IN_TRANSIT,        # 100x 在途
    "14": Status.EXCEPTION,          # 14xx 拒签
}


def family_of(code: str) -> Status:
    """The status an unmapped code most safely belongs under (pending when nothing fits)."""
    if code.isdigit():
        if len(code) == 4 and code[:3] in _FAMILY:
            return _FAMILY[code[:3]]
        if len(code) == 4 and code[:2] in _FAMILY:
            return _FAMILY[code[:2]]
        if len(code) == 3 and code[0] in _FAMILY:
            return _FAMILY[code[0]]
    return Status.PENDING


# Our courier slug -> Kuaidi100 company code (what we subscribe and query with).
COMPANY: dict[str, str] = {
    "sf": "shunfeng",
    "jd": "jd",
    "yto": "yuantong",
    "zto": "zhongtong",
    "sto": "shentong",
    "yunda": "yunda",
    "ems": "ems",
    "chinapost": "youzhengguonei",
    "jtexpress": "jtexpress",
    "deppon": "debangkuaidi",     # 德邦快递 (parcels); 德邦物流 freight is debangwuliu
    "cainiao": "danniao",         # 菜鸟速递 / 丹鸟
    "ups": "ups",
    "usps": "usps",
    "fedex": "fedex",             # FedEx-国际件
    "dhl": "dhlen",               # DHL-全球件 (dhl is the China-domestic DHL result)
}

# Kuaidi100 company code -> our courier slug: the reverse plus sibling codes of one brand.
COURIER: dict[str, str] = {code: slug for slug, code in COMPANY.items()}
COURIER.update({
    "shunfengkuaiyun": "sf",       # 顺丰快运
    "jingdongkuaiyun": "jd",       # 京东快运
    "debangwuliu": "deppon",       # 德邦物流
    "youzhengbk": "chinapost",     # 邮政标准快递
    "youzhengdsbk": "chinapost",   # 邮政电商标快
    "emsguoji": "ems",             # EMS-国际件
    "dhl": "dhl",                  # DHL-中国件
    "dhlde": "dhl",                # DHL-德国件
    "lianbangkuaidi": "fedex",     # 联邦快递 (FedEx China domestic)
    "cainiao": "cainiao",
})

# Companies whose numbers Kuaidi100 only tracks with a phone number (顺丰单号必填).
PHONE_REQUIRED: frozenset[str] = frozenset({"shunfeng", "shunfengkuaiyun"})

# Push ``status`` values (监控状态).
POLLING, SHUTDOWN, ABORT, UPDATEALL = "polling", "shutdown", "abort", "updateall"
PUSH_STATUSES: frozenset[str] = frozenset({POLLING, SHUTDOWN, ABORT, UPDATEALL})

# A stop_reason starting with this asks for the number to be subscribed again later.
RESUBSCRIBE = "resubscribe:"
RESUBSCRIBE_AFTER_MINUTES = 30  # documented: wait half an hour before subscribing again

# Subscribe (poll) returnCode values.
SUBSCRIBE_OK = "200"
SUBSCRIBE_DUPLICATE = "501"      # already polling: the earlier subscription stands
SUBSCRIBE_REJECTED = {"700": "订阅数据错误 (unsupported company, empty or too long number, "
                             "or bad callback URL)",
                      "701": "拒绝订阅的快递公司 (company not accepted for subscription)",
                      "702": "识别不到该单号对应的快递公司 (no company found for this number)"}
SUBSCRIBE_BAD_KEY = {"600": "您不是合法的订阅者 (the key is not valid)",
                     "601": "KEY已过期 (the key expired or the account has no balance)"}

# Real-time query (query.do) returnCode values.
QUERY_NO_RESULT = "500"          # 查询无结果，请隔段时间再查: nothing yet for this number
QUERY_PER_NUMBER = {"400": "找不到对应公司 (wrong company code or incomplete request)",
                    "408": "电话号码校验不通过 (phone number check failed)"}
QUERY_BUSY = {"501": "服务器错误", "502": "服务器繁忙"}
QUERY_BAD_KEY = {"503": "验证签名失败 (signature check failed: key/customer wrong)",
                 "601": "KEY已过期 (the key expired or the account has no balance)"}
