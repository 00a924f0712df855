//! Checklists (检查表) per site kind: the items an inspector checks, each
//! with a code, its text, the criterion it comes from and whether it is a
//! major hidden danger (重大事故隐患) by the national criteria.
//!
//! The items are data: [`ITEMS`] holds every item once, [`LISTS`] says which
//! items a site kind's checklist has. A new site kind is a new line in
//! `LISTS` (its `SiteKind::as_str` name and its item codes); a new item a new
//! line in `ITEMS`. A finding names its item by code; an item marked major
//! makes the finding major whatever grade was sent.
//!
//! The major items are those of 安监总管三〔2017〕121号: the twenty of
//! 《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》 and
//! those of 《烟花爆竹生产经营单位重大生产安全事故隐患判定标准（试行）》 for
//! production, wholesale (批发) and retail (零售). Their text is written as
//! the criteria state them, shortened only where a clause lists examples.

use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger::inspections::Grade;
use crate::validate::{FieldResult, err};

/// One checklist item.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Item {
    /// Its code, what a finding names (`HC-05`).
    pub code: &'static str,
    /// What is checked, worded as the hidden danger the criterion names.
    pub text: &'static str,
    /// The criterion and clause it comes from.
    pub source: &'static str,
    /// A major hidden danger (重大事故隐患): a finding against it is major.
    pub major: bool,
}

const HC: &str = "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》（安监总管三〔2017〕121号）";
const FW: &str =
    "《烟花爆竹生产经营单位重大生产安全事故隐患判定标准（试行）》（安监总管三〔2017〕121号）";

const KS: &str = "《金属非金属矿山重大事故隐患判定标准》（矿安〔2022〕88号）";
const JY: &str = "《汽车加油加气加氢站技术标准》（GB 50156）";
const RQ: &str = "《城镇燃气经营安全重大隐患判定标准》（住房和城乡建设部）";
const SK: &str = "水利部《水利工程生产安全重大事故隐患清单指南》（小型水库）";

const fn major(code: &'static str, text: &'static str, source: &'static str) -> Item {
    Item {
        code,
        text,
        source,
        major: true,
    }
}

const fn general(code: &'static str, text: &'static str, source: &'static str) -> Item {
    Item {
        code,
        text,
        source,
        major: false,
    }
}

/// Every item, once. Codes: HC- 化工和危险化学品 (the criterion's item
/// number), FW- 烟花爆竹, GN- 一般隐患 checks for every kind, HG-/YH- the
/// ordinary checks for hazardous chemicals / fireworks; KS- 非煤矿山, JY- 加油站,
/// RQ- 瓶装燃气, SK- 山塘/小水库.
pub const ITEMS: &[Item] = &[
    major(
        "HC-01",
        "危险化学品生产、经营单位主要负责人和安全生产管理人员未依法经考核合格",
        HC,
    ),
    major("HC-02", "特种作业人员未持证上岗", HC),
    major(
        "HC-03",
        "涉及“两重点一重大”的生产装置、储存设施外部安全防护距离不符合国家标准要求",
        HC,
    ),
    major(
        "HC-04",
        "涉及重点监管危险化工工艺的装置未实现自动化控制，系统未实现紧急停车功能，装备的自动化控制系统、紧急停车系统未投入使用",
        HC,
    ),
    major(
        "HC-05",
        "构成一级、二级重大危险源的危险化学品罐区未实现紧急切断功能；涉及毒性气体、液化气体、剧毒液体的一级、二级重大危险源的危险化学品罐区未配备独立的安全仪表系统",
        HC,
    ),
    major("HC-06", "全压力式液化烃储罐未按国家标准设置注水措施", HC),
    major(
        "HC-07",
        "液化烃、液氨、液氯等易燃易爆、有毒有害液化气体的充装未使用万向管道充装系统",
        HC,
    ),
    major(
        "HC-08",
        "光气、氯气等剧毒气体及硫化氢气体管道穿越除厂区（包括化工园区、工业园区）外的公共区域",
        HC,
    ),
    major(
        "HC-09",
        "地区架空电力线路穿越生产区且不符合国家标准要求",
        HC,
    ),
    major("HC-10", "在役化工装置未经正规设计且未进行安全设计诊断", HC),
    major(
        "HC-11",
        "使用淘汰落后安全技术工艺、设备目录列出的工艺、设备",
        HC,
    ),
    major(
        "HC-12",
        "涉及可燃和有毒有害气体泄漏的场所未按国家标准设置检测报警装置，爆炸危险场所未按国家标准安装使用防爆电气设备",
        HC,
    ),
    major(
        "HC-13",
        "控制室或机柜间面向具有火灾、爆炸危险性装置一侧不满足国家标准关于防火防爆的要求",
        HC,
    ),
    major(
        "HC-14",
        "化工生产装置未按国家标准要求设置双重电源供电，自动化控制系统未设置不间断电源",
        HC,
    ),
    major("HC-15", "安全阀、爆破片等安全附件未正常投用", HC),
    major(
        "HC-16",
        "未建立与岗位相匹配的全员安全生产责任制或者未制定实施生产安全事故隐患排查治理制度",
        HC,
    ),
    major("HC-17", "未制定操作规程和工艺控制指标", HC),
    major(
        "HC-18",
        "未按照国家标准制定动火、进入受限空间等特殊作业管理制度，或者制度未有效执行",
        HC,
    ),
    major(
        "HC-19",
        "新开发的危险化学品生产工艺未经小试、中试、工业化试验直接进行工业化生产；国内首次使用的化工工艺未经过省级人民政府有关部门组织的安全可靠性论证；新建装置未制定试生产方案投料开车；精细化工企业未按规范性文件要求开展反应安全风险评估",
        HC,
    ),
    major(
        "HC-20",
        "未按国家标准分区分类储存危险化学品，超量、超品种储存危险化学品，相互禁配物质混放混存",
        HC,
    ),
    major("FW-01", "主要负责人、安全生产管理人员未依法经考核合格", FW),
    major(
        "FW-02",
        "特种作业人员未持证上岗，作业人员带药检维修设备设施",
        FW,
    ),
    major("FW-03", "职工自行携带工器具、机器设备进厂进行涉药作业", FW),
    major("FW-04", "工（库）房实际作业人员数量超过核定人数", FW),
    major("FW-05", "工（库）房实际滞留、存储药量超过核定药量", FW),
    major(
        "FW-06",
        "工（库）房内、外部安全距离不足，防护屏障缺失或者不符合要求",
        FW,
    ),
    major("FW-07", "防静电、防火、防雷设备设施缺失或者失效", FW),
    major("FW-08", "擅自改变工（库）房设计用途", FW),
    major(
        "FW-09",
        "一、二级危险品工房未设置符合要求的视频监控系统",
        FW,
    ),
    major("FW-10", "出租、出借、转让、买卖、冒用或者伪造许可证", FW),
    major(
        "FW-11",
        "生产经营的产品种类、危险等级超许可范围，或者生产使用违禁药物",
        FW,
    ),
    major("FW-12", "分包、转包工（库）房、生产线或者设备设施", FW),
    major(
        "FW-13",
        "批发企业在城市建成区内设立烟花爆竹储存仓库，或者在批发（展示）场所摆放有药样品",
        FW,
    ),
    major(
        "FW-14",
        "批发企业向零售经营者供应非法生产、经营的烟花爆竹，或者供应按照国家标准规定应由专业燃放人员燃放的烟花爆竹",
        FW,
    ),
    major(
        "FW-15",
        "零售经营者超许可证载明限量存放烟花爆竹，或者在许可证载明的场所外存放烟花爆竹",
        FW,
    ),
    major("FW-16", "零售经营场所与居民居住场所设置在同一建筑物内", FW),
    general(
        "GN-01",
        "未建立或未落实全员安全生产责任制、安全生产规章制度",
        "《中华人民共和国安全生产法》第四条、第二十二条",
    ),
    general(
        "GN-02",
        "从业人员未经安全生产教育和培训，或培训记录（台账）不全",
        "《中华人民共和国安全生产法》第二十八条",
    ),
    general(
        "GN-03",
        "未建立隐患排查治理台账，或排查治理情况未如实记录、未向从业人员通报",
        "《中华人民共和国安全生产法》第四十一条",
    ),
    general(
        "GN-04",
        "消防器材配置不足、过期失效或未定期检查维护",
        "《中华人民共和国消防法》第十六条",
    ),
    general(
        "GN-05",
        "有较大危险因素的场所和设施、设备上未设置明显的安全警示标志",
        "《中华人民共和国安全生产法》第三十五条",
    ),
    general(
        "GN-06",
        "未制定生产安全事故应急救援预案，或未定期组织演练",
        "《中华人民共和国安全生产法》第八十一条",
    ),
    general(
        "GN-07",
        "疏散通道、安全出口堵塞、锁闭，或与员工宿舍设在同一建筑物内",
        "《中华人民共和国安全生产法》第四十二条",
    ),
    general(
        "GN-08",
        "电气线路私拉乱接、老化破损，或使用不符合要求的电器",
        "《中华人民共和国消防法》第二十七条",
    ),
    general(
        "GN-09",
        "未为从业人员提供符合国家标准或行业标准的劳动防护用品",
        "《中华人民共和国安全生产法》第四十五条",
    ),
    general(
        "GN-10",
        "安全设备未经常性维护、保养、定期检测，或检测记录缺失",
        "《中华人民共和国安全生产法》第三十六条",
    ),
    general(
        "HG-01",
        "未建立危险化学品出入库核查、登记制度，或登记台账不全",
        "《危险化学品安全管理条例》第二十五条",
    ),
    general(
        "HG-02",
        "危险化学品安全技术说明书、安全标签缺失",
        "《危险化学品安全管理条例》第十五条",
    ),
    general(
        "HG-03",
        "储存场所、设施未设置通讯、报警装置，或未保证其处于适用状态",
        "《危险化学品安全管理条例》第二十条",
    ),
    general(
        "YH-01",
        "未建立烟花爆竹购销、流向登记台账，或购销票据不全",
        "《烟花爆竹生产经营安全规定》（国家安全监管总局令第93号）",
    ),
    general(
        "YH-02",
        "零售场所存放其他易燃易爆物品，或现场有火源、电热器具",
        "《烟花爆竹经营许可实施办法》（国家安全监管总局令第65号）",
    ),
    general(
        "YH-03",
        "经营许可证未在经营场所醒目位置悬挂，或未张贴“禁止烟火”等警示标识",
        "《烟花爆竹经营许可实施办法》（国家安全监管总局令第65号）",
    ),
    // 非煤矿山 (a township's quarries are open-pit: 露天矿山, and a tailings pond where there is one).
    major(
        "KS-01",
        "未采用自上而下的开采顺序分台阶或者分层开采，或台阶（分层）高度、平台宽度不符合设计",
        KS,
    ),
    major(
        "KS-02",
        "工作帮坡角大于设计工作帮坡角，或最终边坡台阶高度超过设计高度",
        KS,
    ),
    major(
        "KS-03",
        "开采或者破坏设计要求保留的矿（岩）柱或者挂帮矿体",
        KS,
    ),
    major("KS-04", "边坡存在滑移现象，或有潜在滑坡体、危岩未处理", KS),
    major("KS-05", "使用国家明令禁止使用的设备、材料或者工艺", KS),
    major(
        "KS-06",
        "尾矿库坝体出现贯穿性裂缝、坍塌、滑动迹象，或安全超高、干滩长度小于设计规定",
        KS,
    ),
    general(
        "KS-07",
        "爆破作业未设警戒、未清场，或爆破器材领用、清退登记不全",
        "《爆破安全规程》（GB 6722）",
    ),
    general(
        "KS-08",
        "采矿许可证、安全生产许可证过期或超越许可范围开采",
        "《非煤矿矿山企业安全生产许可证实施办法》",
    ),
    // 加油站.
    general(
        "JY-01",
        "卸油时未连接静电接地、未设专人监护，或雷雨天气卸油",
        JY,
    ),
    general(
        "JY-02",
        "加油区、罐区未设置“严禁烟火”“熄火加油”“禁止使用手机”等警示标志，或现场有明火",
        JY,
    ),
    general(
        "JY-03",
        "爆炸危险区域内电气设备不防爆，或防爆电气损坏未修复",
        JY,
    ),
    general(
        "JY-04",
        "埋地油罐未采取防渗措施或渗漏检测装置失效，液位监测不能正常使用",
        JY,
    ),
    general(
        "JY-05",
        "散装汽油销售未查验购买人身份证件、未登记用途和流向",
        "公安部、应急管理部等《关于加强散装汽油销售管理的通告》",
    ),
    // 瓶装燃气供应点.
    major(
        "RQ-01",
        "未取得燃气经营许可证从事瓶装燃气经营，或供应点不在许可证载明范围内",
        RQ,
    ),
    major(
        "RQ-02",
        "销售、储存超期未检、报废、翻新或非自有产权的液化石油气钢瓶",
        RQ,
    ),
    major(
        "RQ-03",
        "供应点储存气瓶超过规定数量，或设置在居住建筑、地下室、半地下室内",
        RQ,
    ),
    major(
        "RQ-04",
        "瓶库未设置可燃气体浓度报警装置，或报警装置不能正常使用",
        RQ,
    ),
    general(
        "RQ-05",
        "送气入户未进行安全检查，或未对用户进行安全用气告知",
        "《城镇燃气管理条例》第十七条",
    ),
    // 山塘、小水库.
    major(
        "SK-01",
        "坝体出现严重裂缝、滑坡、塌陷、管涌或渗漏加剧等险情未处置",
        SK,
    ),
    major(
        "SK-02",
        "溢洪道（泄洪设施）被占用、堵塞、设置拦鱼设施阻水，或放水设施不能正常启闭",
        SK,
    ),
    general(
        "SK-03",
        "行政、技术、巡查三个责任人未落实，或未经培训、未公示",
        "《小型水库安全管理办法》（水安监〔2010〕200号）",
    ),
    general(
        "SK-04",
        "汛期未按规定巡查并记录，或超汛限水位蓄水",
        "《小型水库安全管理办法》（水安监〔2010〕200号）",
    ),
    general(
        "SK-05",
        "未设置水位尺、雨量观测设施或报警设施，下游群众转移路线未明确",
        "《小型水库安全管理办法》（水安监〔2010〕200号）",
    ),
];

/// The items common to every kind (一般隐患 checks).
const COMMON: &[&str] = &[
    "GN-01", "GN-02", "GN-03", "GN-04", "GN-05", "GN-06", "GN-07", "GN-08", "GN-09", "GN-10",
];

/// Each site kind's checklist: its own items (the common ones follow).
pub const LISTS: &[(&str, &[&str])] = &[
    (
        "hazchem_production",
        &[
            "HC-01", "HC-02", "HC-03", "HC-04", "HC-05", "HC-06", "HC-07", "HC-08", "HC-09",
            "HC-10", "HC-11", "HC-12", "HC-13", "HC-14", "HC-15", "HC-16", "HC-17", "HC-18",
            "HC-19", "HC-20", "HG-01", "HG-02", "HG-03",
        ],
    ),
    (
        "hazchem_storage",
        &[
            "HC-01", "HC-02", "HC-03", "HC-05", "HC-06", "HC-07", "HC-08", "HC-09", "HC-11",
            "HC-12", "HC-15", "HC-16", "HC-17", "HC-18", "HC-20", "HG-01", "HG-02", "HG-03",
        ],
    ),
    (
        "hazchem_trade_with_storage",
        &[
            "HC-01", "HC-02", "HC-03", "HC-05", "HC-06", "HC-07", "HC-11", "HC-12", "HC-15",
            "HC-16", "HC-17", "HC-18", "HC-20", "HG-01", "HG-02", "HG-03",
        ],
    ),
    (
        "hazchem_trade_without_storage",
        &["HC-01", "HC-16", "HG-01", "HG-02"],
    ),
    (
        "hazchem_use",
        &[
            "HC-01", "HC-02", "HC-03", "HC-04", "HC-05", "HC-06", "HC-07", "HC-09", "HC-10",
            "HC-11", "HC-12", "HC-13", "HC-14", "HC-15", "HC-16", "HC-17", "HC-18", "HC-20",
            "HG-01", "HG-02", "HG-03",
        ],
    ),
    (
        "fireworks_wholesale",
        &[
            "FW-01", "FW-02", "FW-04", "FW-05", "FW-06", "FW-07", "FW-08", "FW-10", "FW-11",
            "FW-13", "FW-14", "YH-01", "YH-03",
        ],
    ),
    (
        "fireworks_retail",
        &[
            "FW-01", "FW-10", "FW-11", "FW-15", "FW-16", "YH-01", "YH-02", "YH-03",
        ],
    ),
    (
        "non_coal_mine",
        &[
            "KS-01", "KS-02", "KS-03", "KS-04", "KS-05", "KS-06", "KS-07", "KS-08",
        ],
    ),
    (
        "fuel_station",
        &[
            "HC-01", "HC-16", "JY-01", "JY-02", "JY-03", "JY-04", "JY-05", "HG-02",
        ],
    ),
    (
        "lpg_supply_point",
        &["RQ-01", "RQ-02", "RQ-03", "RQ-04", "RQ-05"],
    ),
    (
        "pond_reservoir",
        &["SK-01", "SK-02", "SK-03", "SK-04", "SK-05"],
    ),
];

/// A site kind's checklist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Checklist {
    /// The site kind (`SiteKind` names).
    pub kind: String,
    pub items: Vec<Item>,
}

/// One item by code.
pub fn item(code: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|i| i.code == code)
}

/// The checklist of a site kind (by its stored name): its own items, then
/// the common ones; `None` for a kind without a list.
pub fn for_kind(kind: &str) -> Option<Checklist> {
    let (_, own) = LISTS.iter().find(|(k, _)| *k == kind)?;
    let items = own
        .iter()
        .chain(COMMON.iter())
        .filter_map(|c| item(c).copied())
        .collect();
    Some(Checklist {
        kind: kind.to_string(),
        items,
    })
}

/// Every kind's checklist, in `LISTS` order.
pub fn all() -> Vec<Checklist> {
    LISTS.iter().filter_map(|(k, _)| for_kind(k)).collect()
}

/// The item `code` of the checklist of `kind`, if it is on it.
pub fn item_of(kind: &str, code: &str) -> Option<&'static Item> {
    let (_, own) = LISTS.iter().find(|(k, _)| *k == kind)?;
    if own.contains(&code) || COMMON.contains(&code) {
        item(code)
    } else {
        None
    }
}

/// Checks a finding's item against its site's kind and gives the grade the
/// finding gets: major when the item is, else the one sent. `field` names
/// the input (`findings[2].checklist_item`).
pub fn grade_for(
    field: &str,
    kind: &str,
    code: Option<&str>,
    sent: Grade,
) -> FieldResult<(Option<String>, Grade)> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok((None, sent));
    };
    let Some(it) = item_of(kind, code) else {
        return err(
            field,
            format!("{code} 不是该类场所检查表的条目 / not an item of this site kind's checklist"),
        );
    };
    let grade = if it.major { Grade::Major } else { sent };
    Ok((Some(it.code.to_string()), grade))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::sites::SiteKind;

    #[test]
    fn every_kind_has_a_list_of_known_items() {
        for k in SiteKind::ALL {
            let list = for_kind(k.as_str()).expect("a checklist");
            assert!(list.items.len() > COMMON.len(), "{}", k.as_str());
        }
        for (k, codes) in LISTS {
            for c in codes.iter().chain(COMMON) {
                assert!(item(c).is_some(), "{k}: {c}");
            }
        }
        let mut codes: Vec<_> = ITEMS.iter().map(|i| i.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ITEMS.len(), "codes are unique");
        assert_eq!(
            ITEMS.iter().filter(|i| i.code.starts_with("HC-")).count(),
            20
        );
    }

    #[test]
    fn a_major_item_makes_the_finding_major() {
        let (c, g) = grade_for("f", "hazchem_storage", Some("HC-20"), Grade::General).unwrap();
        assert_eq!((c.as_deref(), g), (Some("HC-20"), Grade::Major));
        let (_, g) = grade_for("f", "hazchem_storage", Some("GN-04"), Grade::General).unwrap();
        assert_eq!(g, Grade::General);
        let e = grade_for("f", "fireworks_retail", Some("HC-20"), Grade::General).unwrap_err();
        assert_eq!(e.field, "f");
        assert_eq!(
            grade_for("f", "x", None, Grade::Major).unwrap(),
            (None, Grade::Major)
        );
    }
}
