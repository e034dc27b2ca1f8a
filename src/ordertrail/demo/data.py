"""Static tables for the demo: people, companies, places and product catalogues.

Phone numbers follow real numbering plans (Chinese mobiles 1[3-9]…; foreign numbers in the
ranges set aside for fiction where a country has one). E-mail addresses use reserved example
domains, so no demo notification can ever reach a real mailbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class DemoUser:
    name: str
    display_name: str
    role: str
    email: str
    title: str


# One role each; every built-in role is covered. The first user of a role is the one the
# report's walkthrough uses.
USERS: tuple[DemoUser, ...] = (
    DemoUser("zhou.min", "周敏 Zhou Min", "admin", "zhou.min@ordertrail.example", "IT 管理员"),
    DemoUser("chen.jianguo", "陈建国 Chen Jianguo", "manager", "chen.jianguo@ordertrail.example",
             "总经理 General manager"),
    DemoUser("li.na", "李娜 Li Na", "sales", "li.na@ordertrail.example", "销售经理 Sales"),
    DemoUser("james.wu", "吴俊杰 James Wu", "sales", "james.wu@ordertrail.example",
             "外贸销售 Export sales"),
    DemoUser("shop.sync", "电商平台同步 Marketplace sync", "sales",
             "shop.sync@ordertrail.example", "Tmall / JD / Douyin / PDD integration"),
    DemoUser("zhao.lei", "赵磊 Zhao Lei", "service", "zhao.lei@ordertrail.example", "客服 Service"),
    DemoUser("xu.ting", "许婷 Xu Ting", "service", "xu.ting@ordertrail.example", "客服 Service"),
    DemoUser("wang.qiang", "王强 Wang Qiang", "warehouse", "wang.qiang@ordertrail.example",
             "仓库主管 Warehouse"),
    DemoUser("zhang.hao", "张浩 Zhang Hao", "warehouse", "zhang.hao@ordertrail.example",
             "仓管员 Warehouse"),
    DemoUser("liu.yang", "刘洋 Liu Yang", "production", "liu.yang@ordertrail.example",
             "生产主管 Production"),
    DemoUser("sun.li", "孙丽 Sun Li", "procurement", "sun.li@ordertrail.example",
             "采购 Procurement"),
    DemoUser("he.jing", "何静 He Jing", "finance", "he.jing@ordertrail.example",
             "财务经理 Finance"),
    DemoUser("sarah.tan", "Sarah Tan", "viewer", "sarah.tan@ordertrail.example",
             "审计 Auditor (read only)"),
)

# People ----------------------------------------------------------------------------------

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾田董潘袁蔡蒋余"
            "于杜叶程魏苏吕丁任沈姚卢钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段"
            "雷龙黎史陶贺毛郝顾龚邵万武钱戴严")
GIVEN = _words("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 "
               "平 刚 桂英 建华 文 华 鑫 宇 浩 欣怡 子涵 梓萱 雨桐 一诺 浩然 "
               "宇轩 俊杰 思远 佳怡 诗涵 晨曦 博文 志强 建国 海燕 晓东 丽华 春梅 "
               "国栋 嘉怡 天佑 若曦 泽宇 梦瑶 可馨 明轩 雅琪 子豪 文博 欣妍 心怡 "
               "晓峰 立新 红梅 玉兰 永强 建军 秀兰 亚楠 鹏 飞 帆 琳 婷 蕾 倩 "
               "颖 璐 琪 凯 斌 辉 健 晨 鹏飞 雪 莉 振华 小燕 德明")
MOBILE_PREFIXES = _words("130 131 132 133 135 136 137 138 139 147 150 151 152 153 155 156 "
                         "157 158 159 166 172 173 175 176 177 178 180 181 182 183 185 186 "
                         "187 188 189 191 193 195 198 199")
EMAIL_HOSTS = ("example.cn", "example.com")

# (province, city, weight, districts); municipalities repeat their name as province.
CN_CITIES: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("广东", "深圳", 12, ("南山区", "福田区", "宝安区", "龙岗区", "龙华区")),
    ("广东", "广州", 10, ("天河区", "海珠区", "越秀区", "番禺区", "白云区")),
    ("广东", "东莞", 5, ("长安镇", "虎门镇", "松山湖", "南城街道")),
    ("广东", "佛山", 4, ("顺德区", "南海区", "禅城区")),
    ("浙江", "杭州", 9, ("西湖区", "滨江区", "余杭区", "拱墅区", "萧山区")),
    ("浙江", "宁波", 4, ("鄞州区", "海曙区", "北仑区")),
    ("浙江", "金华", 3, ("义乌市", "婺城区", "永康市")),
    ("江苏", "苏州", 7, ("工业园区", "姑苏区", "吴中区", "昆山市")),
    ("江苏", "南京", 5, ("鼓楼区", "玄武区", "江宁区", "建邺区")),
    ("江苏", "无锡", 3, ("滨湖区", "梁溪区", "新吴区")),
    ("上海", "上海", 12, ("浦东新区", "徐汇区", "静安区", "闵行区", "嘉定区")),
    ("北京", "北京", 10, ("朝阳区", "海淀区", "东城区", "丰台区", "大兴区")),
    ("天津", "天津", 3, ("滨海新区", "和平区", "南开区")),
    ("重庆", "重庆", 4, ("渝中区", "江北区", "九龙坡区", "渝北区")),
    ("四川", "成都", 7, ("武侯区", "锦江区", "高新区", "青羊区", "双流区")),
    ("湖北", "武汉", 5, ("江汉区", "武昌区", "洪山区", "东西湖区")),
    ("湖南", "长沙", 4, ("岳麓区", "天心区", "雨花区", "开福区")),
    ("福建", "厦门", 3, ("思明区", "湖里区", "集美区")),
    ("福建", "福州", 2, ("鼓楼区", "仓山区", "晋安区")),
    ("山东", "青岛", 4, ("市南区", "崂山区", "黄岛区", "城阳区")),
    ("山东", "济南", 3, ("历下区", "槐荫区", "历城区")),
    ("河南", "郑州", 4, ("金水区", "中原区", "二七区")),
    ("陕西", "西安", 4, ("雁塔区", "碑林区", "未央区")),
    ("安徽", "合肥", 3, ("蜀山区", "包河区", "庐阳区")),
    ("辽宁", "沈阳", 2, ("和平区", "沈河区", "浑南区")),
    ("辽宁", "大连", 2, ("中山区", "甘井子区", "金州区")),
    ("云南", "昆明", 2, ("五华区", "盘龙区", "官渡区")),
    ("河北", "石家庄", 2, ("长安区", "裕华区", "桥西区")),
    ("江西", "南昌", 2, ("东湖区", "红谷滩区", "青山湖区")),
    ("广西", "南宁", 2, ("青秀区", "西乡塘区", "兴宁区")),
    ("黑龙江", "哈尔滨", 2, ("南岗区", "道里区", "香坊区")),
    ("贵州", "贵阳", 1, ("云岩区", "南明区", "观山湖区")),
    ("山西", "太原", 1, ("小店区", "迎泽区", "杏花岭区")),
    ("海南", "海口", 1, ("龙华区", "美兰区")),
    ("吉林", "长春", 1, ("朝阳区", "南关区")),
)
ROADS = _words("人民路 解放路 建设路 中山路 和平路 科技路 创业路 发展大道 工业大道 "
               "兴业路 长江路 黄河路 新华路 学府路 滨江大道 东风路 青年路 迎宾大道 "
               "高新大道 园区路")
ESTATES = _words("阳光花园 锦绣家园 翠湖苑 世纪城 金色港湾 御景湾 东方明珠苑 幸福里 "
                 "春华小区 书香门第")
PARKS = ("科技园", "工业园", "产业园", "创新中心", "物流园")


@dataclass(frozen=True)
class ForeignCity:
    country: str
    province: str | None
    city: str
    phone: str  # '#' is a random digit
    first: tuple[str, ...]
    last: tuple[str, ...]
    brands: tuple[str, ...]
    suffix: str
    street: str


_EN_FIRST = ("James", "Emily", "Michael", "Sarah", "David", "Olivia", "Daniel", "Jessica",
             "Matthew", "Chloe", "Ethan", "Hannah", "Ryan", "Grace")
_EN_LAST = ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Clark",
            "Walker", "Young", "Harris", "Lewis")
FOREIGN_CITIES: tuple[ForeignCity, ...] = (
    ForeignCity("SG", None, "Singapore", "+65 9### ####",
                ("Wei Ling", "Jun Jie", "Priya", "Ahmad", "Rachel", "Marcus"),
                ("Tan", "Lim", "Ng", "Wong", "Goh", "Rahman"),
                ("Lion City", "Straits", "Merlion", "Tanjong"), "Pte. Ltd.",
                "{n} Jurong West Street 41"),
    ForeignCity("DE", "Hamburg", "Hamburg", "+49 40 ### ####",
                ("Lukas", "Anna", "Felix", "Hannah", "Jonas", "Lea"),
                ("Müller", "Schmidt", "Fischer", "Weber", "Becker", "Hoffmann"),
                ("Hanseatic Components", "Elbe Handel", "Nordwerk"), "GmbH",
                "Speicherstadt {n}"),
    ForeignCity("US", "California", "Los Angeles", "+1 213 555 01##", _EN_FIRST, _EN_LAST,
                ("Westbay Industrial", "Redwood Components", "Pacific Rim Supply"), "Inc.",
                "{n} S Alameda St"),
    ForeignCity("US", "New York", "New York", "+1 212 555 01##", _EN_FIRST, _EN_LAST,
                ("Hudson Trading", "Empire Fasteners"), "LLC", "{n} W 37th St"),
    ForeignCity("JP", "Tokyo", "Tokyo", "+81 3 #### ####",
                ("Kenji", "Yuki", "Haruto", "Aoi", "Takashi", "Emi"),
                ("Tanaka", "Suzuki", "Sato", "Takahashi", "Watanabe", "Ito"),
                ("Sakura Seiki", "Kanto Precision"), "Co., Ltd.", "{n}-2 Shiba, Minato-ku"),
    ForeignCity("JP", "Osaka", "Osaka", "+81 6 #### ####",
                ("Hiroshi", "Naoko", "Daiki", "Mai"), ("Yamamoto", "Nakamura", "Kobayashi"),
                ("Naniwa Kogyo",), "Co., Ltd.", "{n}-5 Utsubo, Nishi-ku"),
    ForeignCity("GB", "England", "London", "+44 20 7946 0###", _EN_FIRST, _EN_LAST,
                ("Thames Engineering", "Albion Supplies"), "Ltd", "{n} Commercial Road"),
    ForeignCity("AU", "New South Wales", "Sydney", "+61 2 5550 ####", _EN_FIRST, _EN_LAST,
                ("Harbourside Trading",), "Pty Ltd", "{n} Parramatta Road"),
    ForeignCity("NL", "South Holland", "Rotterdam", "+31 10 ### ####",
                ("Daan", "Sanne", "Bram", "Lotte"), ("de Vries", "Jansen", "Bakker", "Visser"),
                ("Maas Logistics",), "B.V.", "Waalhaven Oostzijde {n}"),
    ForeignCity("AE", "Dubai", "Dubai", "+971 4 ### ####",
                ("Omar", "Fatima", "Rashid", "Aisha"), ("Al Mansoori", "Haddad", "Khan"),
                ("Gulf Horizon Trading",), "LLC", "Jebel Ali Free Zone, Block {n}"),
    ForeignCity("MY", "Kuala Lumpur", "Kuala Lumpur", "+60 3 #### ####",
                ("Aiman", "Mei Ling", "Kumar", "Siti"), ("Lee", "Chong", "Ismail", "Nair"),
                ("Petaling Industrial",), "Sdn. Bhd.", "{n} Jalan Klang Lama"),
    ForeignCity("KR", "Seoul", "Seoul", "+82 2 #### ####",
                ("Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun"), ("Kim", "Lee", "Park", "Choi"),
                ("Hanil Precision",), "Co., Ltd.", "{n} Teheran-ro, Gangnam-gu"),
)

CN_BRANDS = _words("恒信 华达 鑫源 宏远 金泰 瑞丰 永盛 天合 精工 博远 中联 汇通 顺达 "
                   "东方 新锐 联创 信诚 德润 嘉禾 盛世 海纳 正泰 宝利 佳和")
MTO_INDUSTRIES = ("精密机械", "自动化设备", "电子科技", "新能源科技", "汽车零部件", "医疗器械",
                  "智能装备", "五金制品")
B2B_INDUSTRIES = ("贸易", "商贸", "供应链管理", "包装材料", "建材", "五金交电", "电器", "食品")
MUNICIPALITIES = ("上海", "北京", "天津", "重庆")


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str
    email: str | None
    country: str
    province: str | None
    city: str
    address: str
    contact: str | None  # the person to call at a company customer
    foreign: bool


def _digits(rng: random.Random, template: str) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def cn_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def cn_mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + _digits(rng, "########")


def _cn_city(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    province, city, _w, districts = rng.choices(CN_CITIES, [c[2] for c in CN_CITIES])[0]
    return province, city, districts


def customer(rng: random.Random, *, company: str | None, foreign: bool,
             industries: tuple[str, ...] = MTO_INDUSTRIES) -> Customer:
    """A customer: a person (company=None) or a business, in China or abroad."""
    if foreign:
        fc = rng.choice(FOREIGN_CITIES)
        person = f"{rng.choice(fc.first)} {rng.choice(fc.last)}"
        address = fc.street.format(n=rng.randint(2, 280))
        if company is None:
            local = person.lower().replace(" ", ".").replace("ü", "ue")
            email = f"{local}@example.com"
            return Customer(person, _digits(rng, fc.phone), email, fc.country, fc.province,
                            fc.city, address, None, True)
        name = f"{rng.choice(fc.brands)} {fc.suffix}"
        host = name.split()[0].lower()
        return Customer(name, _digits(rng, fc.phone), f"purchasing@{host}.example.com",
                        fc.country, fc.province, fc.city, address, person, True)
    province, city, districts = _cn_city(rng)
    district = rng.choice(districts)
    person = cn_name(rng)
    if company is None:
        address = (f"{district}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
                   f"{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(2, 33)}"
                   f"{rng.randint(1, 4):02d}室")
        email = (f"{rng.choice(['zhang', 'wang', 'li', 'chen', 'liu'])}{rng.randint(1970, 2005)}"
                 f"@{rng.choice(EMAIL_HOSTS)}") if rng.random() < 0.25 else None
        return Customer(person, cn_mobile(rng), email, "CN", province, city, address, None,
                        False)
    brand = rng.choice(CN_BRANDS)
    prefix = city if city in MUNICIPALITIES or rng.random() < 0.4 else f"{city}市"
    name = f"{prefix}{brand}{rng.choice(industries)}有限公司"
    address = (f"{district}{rng.choice(ROADS)}{rng.randint(1, 999)}号"
               f"{brand}{rng.choice(PARKS)}{rng.choice('ABCDE')}栋")
    return Customer(name, cn_mobile(rng), None, "CN", province, city, address,
                    f"{person[0]}经理" if rng.random() < 0.5 else person, False)


# Products --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    sku: str
    zh: str
    en: str
    price: Decimal  # CNY
    qty: tuple[float, float]  # typical quantity range per order line
    step: Decimal  # quantity granularity


def _p(sku: str, zh: str, en: str, price: str, lo: float, hi: float, step: str = "1",
       ) -> Product:
    return Product(sku, zh, en, Decimal(price), (lo, hi), Decimal(step))


RETAIL_PRODUCTS: tuple[Product, ...] = (
    _p("AUD-TWS-ANC", "无线降噪蓝牙耳机", "Wireless noise-cancelling earbuds", "299", 1, 2),
    _p("HOM-CUP-500", "不锈钢保温杯 500ml", "Stainless steel vacuum bottle 500 ml", "89", 1, 3),
    _p("APP-TEE-CTN", "纯棉圆领T恤", "Cotton crew-neck T-shirt", "79", 1, 4),
    _p("KIT-AF-5L", "空气炸锅 5L", "Air fryer 5 L", "399", 1, 1),
    _p("SPT-RUN-CSH", "缓震跑步鞋", "Cushioned running shoes", "459", 1, 2),
    _p("BEA-MASK-10", "玻尿酸补水面膜 10片装", "Hyaluronic sheet masks, pack of 10", "129", 1, 3),
    _p("DIG-KB-87B", "机械键盘 87键 茶轴", "Mechanical keyboard TKL, brown switches", "349", 1, 1),
    _p("DIG-CASE-MAG", "磁吸手机壳", "Magnetic phone case", "39", 1, 2),
    _p("PER-TB-SON", "声波电动牙刷", "Sonic electric toothbrush", "199", 1, 2),
    _p("FOD-COF-1KG", "云南小粒咖啡豆 1kg", "Yunnan arabica coffee beans 1 kg", "158", 1, 3),
    _p("SPT-YOGA-8", "加厚瑜伽垫 8mm", "Yoga mat 8 mm", "99", 1, 2),
    _p("BOK-KID-10", "儿童绘本套装 10册", "Children's picture books, set of 10", "168", 1, 2),
    _p("HOM-RV-LDS", "激光导航扫地机器人", "Robot vacuum with lidar navigation", "1899", 1, 1),
    _p("APP-DOWN-W", "白鸭绒羽绒服", "White duck down jacket", "899", 1, 1),
    _p("DIG-SW-GPS", "智能手表 GPS 版", "Smart watch, GPS", "1299", 1, 1),
    _p("DIG-PB-20K", "充电宝 20000mAh", "Power bank 20000 mAh", "149", 1, 2),
    _p("BEA-HC-GIFT", "护手霜礼盒", "Hand cream gift set", "59", 1, 3),
    _p("HOM-BED-18", "全棉四件套 1.8m", "Cotton bedding set, king size", "329", 1, 2),
    _p("HOM-LDY-52", "洗衣凝珠 52颗", "Laundry pods, 52 count", "49.90", 1, 4),
    _p("PET-CAT-15", "冻干双拼猫粮 1.5kg", "Freeze-dried cat food 1.5 kg", "139", 1, 3),
    _p("FOD-NUT-12", "每日坚果礼盒 1.2kg", "Mixed nuts gift box 1.2 kg", "118", 1, 3),
    _p("BAB-DPR-L54", "婴儿纸尿裤 L码 54片", "Baby diapers size L, 54 count", "109", 1, 4),
)

MTO_PRODUCTS: tuple[Product, ...] = (
    _p("MTO-HSG-6061", "铝合金CNC加工外壳 6061-T6", "CNC-machined aluminium housing 6061-T6",
       "86", 100, 1500, "50"),
    _p("MTO-FLG-DN50", "不锈钢法兰 DN50 PN16", "Stainless steel flange DN50 PN16", "145", 50, 600,
       "10"),
    _p("MTO-GEAR-40T", "直齿圆柱齿轮 40齿 模数2", "Spur gear 40T, module 2", "99.50", 100, 1000,
       "50"),
    _p("MTO-ENC-ABS", "ABS注塑外壳", "Injection-moulded ABS enclosure", "12.80", 2000, 20000,
       "500"),
    _p("MTO-HYD-63200", "液压油缸 63x200", "Hydraulic cylinder 63 x 200", "1850", 5, 60),
    _p("MTO-BRK-SM", "钣金支架 喷粉", "Sheet-metal bracket, powder-coated", "23", 500, 5000,
       "100"),
    _p("MTO-PCBA-4L", "四层PCB贴片组装板", "4-layer PCB assembly", "68", 300, 5000, "100"),
    _p("MTO-SFT-20300", "精密传动轴 Φ20h6×300", "Precision shaft Ø20 h6 × 300", "210", 50, 500,
       "10"),
    _p("MTO-BRG-P210", "铸铁轴承座 P210", "Cast-iron bearing housing P210", "95", 50, 400, "10"),
    _p("MTO-ROL-50500", "输送辊筒 Φ50×500", "Conveyor roller Ø50 × 500", "75", 100, 1000, "20"),
    _p("MTO-FRM-WLD", "焊接钢结构机架", "Welded steel machine frame", "4200", 2, 20),
    _p("MTO-PLT-SRV", "伺服电机安装板", "Servo motor mounting plate", "38", 200, 2000, "50"),
    _p("MTO-SEAL-SIL", "定制硅胶密封圈", "Custom silicone seal ring", "1.60", 5000, 50000,
       "1000"),
    _p("MTO-CAP-DC", "压铸铝端盖", "Die-cast aluminium end cap", "18.50", 1000, 10000, "500"),
)

B2B_PRODUCTS: tuple[Product, ...] = (
    _p("B2B-STL-SPCC10", "冷轧钢卷 SPCC 1.0mm（吨）", "Cold-rolled steel coil SPCC 1.0 mm (t)",
       "4850", 5, 80, "0.5"),
    _p("B2B-PP-T30S", "聚丙烯颗粒 PP T30S（吨）", "Polypropylene pellets PP T30S (t)", "7600",
       2, 40, "0.5"),
    _p("B2B-PPR-A470", "A4复印纸 70g（箱）", "A4 copy paper 70 g (carton)", "135", 100, 2000, "10"),
    _p("B2B-CTN-5P", "五层瓦楞纸箱（个）", "5-ply corrugated carton (pc)", "4.20", 5000, 60000,
       "500"),
    _p("B2B-CU-CATH", "电解铜 Cu-CATH-1（吨）", "Copper cathode Cu-CATH-1 (t)", "72500", 1, 12,
       "0.5"),
    _p("B2B-OIL-SOY20", "一级大豆油 20L（桶）", "Soybean oil grade 1, 20 L (drum)", "289", 100,
       1500, "10"),
    _p("B2B-YRN-C32", "精梳棉纱 32S（吨）", "Combed cotton yarn 32S (t)", "23800", 1, 20, "0.5"),
    _p("B2B-PVC-110", "PVC排水管 DN110（米）", "PVC drain pipe DN110 (m)", "36", 500, 8000, "100"),
    _p("B2B-LED-6060", "LED平板灯 600×600（套）", "LED panel light 600 × 600 (set)", "58", 200,
       5000, "50"),
    _p("B2B-BAT-18650", "18650锂电池电芯（颗）", "18650 lithium-ion cell (pc)", "6.80", 10000,
       100000, "1000"),
    _p("B2B-NAOH-FL", "工业片碱 NaOH 99%（吨）", "Caustic soda flakes NaOH 99% (t)", "3300", 5, 60,
       "1"),
)


def quantity(rng: random.Random, product: Product) -> Decimal:
    """A plausible order quantity: skewed towards the low end, in the product's steps."""
    lo, hi = product.qty
    raw = lo + (hi - lo) * rng.random() ** 2
    steps = max(1, round(Decimal(str(raw)) / product.step))
    return (steps * product.step).normalize()


# Notes -----------------------------------------------------------------------------------
# (zh, en) pairs; the language follows the customer (Chinese staff write English for export).

CREATE_NOTES = {
    "retail": (("客户留言：请发顺丰，谢谢", "Customer: please ship with a tracked courier"),
               ("生日礼物，请不要放发票", "Birthday gift: no invoice in the parcel please"),
               ("收货地址为公司，工作日派送", "Office address, deliver on weekdays")),
    "make_to_order": (("按图纸 Rev.B 生产，首件需客户确认", "Produce to drawing Rev. B; first "
                       "article needs customer sign-off"),
                      ("表面阳极氧化黑色，附材质证明", "Black anodised finish, material "
                       "certificate required"),
                      ("分两批交货，第一批 50%", "Deliver in two lots, 50% first")),
    "b2b_credit": (("年度框架合同下单，账期 60 天", "Call-off under the annual framework "
                    "contract, 60 days' credit"),
                   ("请开增值税专用发票", "VAT special invoice required"),
                   ("客户自提，提前一天通知", "Customer collects; call one day ahead")),
}
# Holds: (stages where the reason makes sense, (held, resumed) in zh, the same in en).
HoldNote = tuple[tuple[str, ...], tuple[str, str], tuple[str, str]]
HOLD_NOTES: dict[str, tuple[HoldNote, ...]] = {
    "retail": (
        (("review", "picking", "packed"), ("客户要求修改收货地址", "地址已更新，继续处理"),
         ("Customer asked to change the delivery address", "Address updated, going on")),
        (("review",), ("风控提示疑似刷单，待复核", "复核通过，正常发货"),
         ("Risk control flagged the payment for review", "Review passed")),
        (("review", "picking"), ("缺货，等待补货入库", "到货入库，继续拣货"),
         ("Out of stock, waiting for replenishment", "Stock arrived")),
        (("packed",), ("外箱破损，重新包装并复核", "已重新包装"),
         ("Carton damaged; repacking and checking", "Repacked")),
    ),
    "make_to_order": (
        (("review", "material_check", "production"),
         ("客户变更图纸，等待新版 Rev.C", "已收到 Rev.C 图纸，恢复"),
         ("Customer changed the drawing; waiting for Rev. C", "Rev. C received, resuming")),
        (("material_check", "production"), ("6061 铝棒缺料，等待供应商到货", "铝棒到货，恢复"),
         ("6061 bar stock short; waiting for the supplier", "Bar stock arrived, resuming")),
        (("production",), ("CNC 设备故障停机检修", "设备修复，恢复生产"),
         ("CNC machine down for repair", "Machine repaired")),
        (("qc", "outbound"), ("三坐标测量仪校准中，暂停检验", "校准完成，继续"),
         ("CMM under calibration; inspection paused", "Calibration done")),
    ),
    "b2b_credit": (
        (("review", "credit_approval"), ("客户信用额度不足，等待补充担保", "已收到担保函，继续"),
         ("Credit limit exceeded; waiting for a guarantee", "Guarantee received, continuing")),
        (("review", "credit_approval"), ("等待客户盖章合同回传", "合同已回传"),
         ("Waiting for the signed contract", "Signed contract received")),
        (("picking",), ("仓库库存不足，等待调拨", "调拨到货，继续备货"),
         ("Not enough stock; waiting for a transfer", "Transfer arrived")),
    ),
}
CANCEL_NOTES = {
    "retail": (("客户申请退款（未发货）", "Customer asked for a refund before shipping"),
               ("重复下单，客户取消其中一单", "Duplicate order, cancelled by the customer"),
               ("缺货无法发货，已与客户协商取消", "Out of stock; cancelled with the customer's "
                "agreement")),
    "make_to_order": (("客户项目取消", "Customer's project was cancelled"),
                      ("价格未达成一致", "No agreement on price"),
                      ("交期无法满足客户要求", "We cannot meet the customer's delivery date")),
    "b2b_credit": (("信用审批未通过，客户取消订单", "Credit not granted; customer cancelled"),
                   ("客户改从其他供应商采购", "Customer switched to another supplier"),
                   ("客户预算冻结", "Customer's budget frozen")),
}
REJECT_NOTES = (("客户账期已超 60 天，请先催收再提交", "Customer is more than 60 days overdue; "
                 "collect first, then resubmit"),
                ("超出信用额度，请客户预付 30%", "Over the credit limit; ask for 30% prepayment"),
                ("缺少盖章合同，请补齐后重新提交", "Signed contract missing; resubmit with it"))
RESUBMIT_NOTES = (("客户已回款，重新提交", "Customer paid the overdue invoices; resubmitting"),
                  ("客户已预付 30%，重新提交", "30% prepayment received; resubmitting"),
                  ("合同已补齐", "Signed contract attached"))
APPROVE_NOTES = (("客户信用良好，同意", "Good payment history, approved"),
                 ("在授信额度内", "Within the credit limit"),
                 ("同意，注意按期回款", "Approved; watch the payment date"))
GM_NOTES = (("大额订单，同意", "Large order, approved"),
            ("同意，请财务跟进回款", "Approved; finance to follow up the payment"))
REWORK_NOTES = (("尺寸超差，返工", "Dimensions out of tolerance, rework"),
                ("表面划伤，返工处理", "Surface scratches, rework"))
# Said when an order finally leaves a stage where it took far longer than usual.
SLOW_NOTES = {
    "picking": (("调拨到货后拣货，延迟", "Picked late, after a stock transfer"),),
    "shipped": (("物流延误，终于签收", "Carrier delay; delivered at last"),
                ("中转站滞留多日", "Held up at a sorting hub for days")),
    "material_check": (("供应商延迟交货，物料今日到齐", "Supplier delivered late; materials "
                        "complete today"),),
    "production": (("排产积压，已加班赶工", "Production backlog; overtime scheduled"),),
    "credit_approval": (("月结期间审批延后", "Approval delayed by the month-end close"),),
}
