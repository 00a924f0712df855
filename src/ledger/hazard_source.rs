//! 危险化学品重大危险源辨识 (GB 18218-2018) from a site's inventory.
//!
//! Each inventory line's maximum quantity qᵢ (in tonnes) is divided by its
//! critical quantity Qᵢ (临界量): from 表1 when the chemical is named there
//! (matched by CAS number, else by name or alias), else from 表2 by the
//! hazard category the line states (`gb18218_category`, e.g. `W5.3`).
//! S = Σ qᵢ/Qᵢ ≥ 1 makes the site a major hazard source (重大危险源). Its
//! grade comes from R = α · Σ βᵢ qᵢ/Qᵢ: β per 表3 (the named toxic gases)
//! or 表4 (by category), α per 表5 from the people living within 500 m of
//! the site's boundary; R ≥ 100 一级, 50–100 二级, 10–50 三级, below 10 四级.
//! A line whose chemical is in neither table, or whose unit is not a mass,
//! is shown as such and left out of S: nothing is guessed.

use serde::Serialize;

use super::sites::InventoryLine;

/// Where a 表1 chemical's correction factor β comes from.
#[derive(Debug, Clone, Copy)]
enum Beta {
    /// 表3: the named toxic gases.
    Named(f64),
    /// 表4, by the 表2 category the chemical falls in.
    Category(&'static str),
}

/// One row of 表1 (危险化学品名称及其临界量).
struct Listed {
    name: &'static str,
    aliases: &'static [&'static str],
    cas: &'static [&'static str],
    /// 临界量, t.
    critical_t: f64,
    beta: Beta,
}

const fn listed(
    name: &'static str,
    aliases: &'static [&'static str],
    cas: &'static [&'static str],
    critical_t: f64,
    beta: Beta,
) -> Listed {
    Listed {
        name,
        aliases,
        cas,
        critical_t,
        beta,
    }
}

use Beta::{Category as C, Named as N};

/// GB 18218-2018 表1, the chemicals a township meets (toxic gases,
/// flammable gases and liquids, oxidisers, explosives and reactive
/// solids), with their 临界量 in tonnes. β: 表3 for the named toxic gases,
/// otherwise 表4 by the category the chemical is usually classed in (a line
/// may state its own category to override it).
const TABLE_1: &[Listed] = &[
    // 毒性气体
    listed("氨", &["液氨", "氨气"], &["7664-41-7"], 10.0, N(2.0)),
    listed("二氟化氧", &["一氧化二氟"], &["7783-41-7"], 1.0, C("J1")),
    listed("二氧化氮", &[], &["10102-44-0"], 1.0, N(10.0)),
    listed("二氧化硫", &["亚硫酸酐"], &["7446-09-5"], 20.0, N(2.0)),
    listed("氟", &["氟气"], &["7782-41-4"], 1.0, C("J1")),
    listed("碳酰氯", &["光气"], &["75-44-5"], 0.3, N(20.0)),
    listed("环氧乙烷", &["氧化乙烯"], &["75-21-8"], 10.0, N(2.0)),
    listed("甲醛（含量>90%）", &["蚁醛"], &["50-00-0"], 5.0, C("J1")),
    listed("磷化氢", &["磷化三氢", "膦"], &["7803-51-2"], 1.0, N(20.0)),
    listed("硫化氢", &[], &["7783-06-4"], 5.0, N(5.0)),
    listed("氯化氢（无水）", &["氯化氢"], &["7647-01-0"], 20.0, N(3.0)),
    listed("氯", &["液氯", "氯气"], &["7782-50-5"], 5.0, N(4.0)),
    listed("煤气", &["一氧化碳"], &["630-08-0"], 20.0, N(2.0)),
    listed("砷化氢", &["砷化三氢", "胂"], &["7784-42-1"], 1.0, C("J1")),
    listed(
        "锑化氢",
        &["三氢化锑", "锑化三氢"],
        &["7803-52-3"],
        1.0,
        C("J1"),
    ),
    listed("硒化氢", &[], &["7783-07-5"], 1.0, C("J1")),
    listed("溴甲烷", &["甲基溴"], &["74-83-9"], 10.0, N(3.0)),
    listed(
        "丙酮氰醇",
        &["丙酮合氰化氢", "2-羟基异丁腈", "氰丙醇"],
        &["75-86-5"],
        20.0,
        C("J2"),
    ),
    listed(
        "丙烯醛",
        &["烯丙醛", "败脂醛"],
        &["107-02-8"],
        20.0,
        C("J2"),
    ),
    listed("氟化氢", &["无水氟化氢"], &["7664-39-3"], 1.0, N(5.0)),
    listed(
        "环氧氯丙烷",
        &["1-氯-2,3-环氧丙烷", "3-氯-1,2-环氧丙烷"],
        &["106-89-8"],
        20.0,
        C("J2"),
    ),
    listed(
        "甲苯二异氰酸酯",
        &["二异氰酸甲苯酯", "TDI"],
        &["26471-62-5"],
        100.0,
        C("J2"),
    ),
    listed("一氯化硫", &["氯化硫"], &["10025-67-9"], 1.0, C("J2")),
    listed("氰化氢", &["无水氢氰酸"], &["74-90-8"], 1.0, N(10.0)),
    listed("三氧化硫", &["硫酸酐"], &["7446-11-9"], 75.0, C("J2")),
    listed("烯丙胺", &["3-氨基丙烯"], &["107-11-9"], 20.0, C("J2")),
    listed("溴", &["溴素"], &["7726-95-6"], 20.0, C("J2")),
    listed(
        "乙撑亚胺",
        &["吖丙啶", "氮丙啶"],
        &["151-56-4"],
        20.0,
        C("J2"),
    ),
    listed(
        "异氰酸甲酯",
        &["甲基异氰酸酯"],
        &["624-83-9"],
        0.75,
        N(20.0),
    ),
    // 爆炸品
    listed(
        "2,4,6-三硝基甲苯",
        &["梯恩梯", "TNT"],
        &["118-96-7"],
        5.0,
        C("W1.1"),
    ),
    listed(
        "硝化甘油",
        &["硝化丙三醇", "甘油三硝酸酯"],
        &["55-63-0"],
        1.0,
        C("W1.1"),
    ),
    listed("硝酸铵（含可燃物>0.2%）", &[], &[], 5.0, C("W1.1")),
    listed(
        "硝酸铵（含可燃物≤0.2%）",
        &["硝酸铵"],
        &["6484-52-2"],
        50.0,
        C("W9.1"),
    ),
    listed(
        "硝酸铵肥料（含可燃物≤0.4%）",
        &["硝酸铵肥料"],
        &[],
        200.0,
        C("W9.2"),
    ),
    listed("硝酸钾", &[], &["7757-79-1"], 1000.0, C("W9.2")),
    // 易燃气体
    listed(
        "1,3-丁二烯",
        &["联丁烯", "丁二烯"],
        &["106-99-0"],
        5.0,
        C("W2"),
    ),
    listed("二甲醚", &["甲氧基甲烷"], &["115-10-6"], 50.0, C("W2")),
    listed(
        "甲烷",
        &["天然气", "液化天然气", "LNG", "CNG", "压缩天然气"],
        &["74-82-8", "8006-14-2"],
        50.0,
        C("W2"),
    ),
    listed("氯乙烯", &["乙烯基氯"], &["75-01-4"], 50.0, C("W2")),
    listed("氢", &["氢气"], &["1333-74-0"], 5.0, C("W2")),
    listed(
        "液化石油气",
        &["石油气（液化的）", "液化气", "LPG", "丙烷", "丁烷"],
        &["68476-85-7", "74-98-6", "106-97-8"],
        50.0,
        C("W2"),
    ),
    listed("一甲胺", &["甲胺", "氨基甲烷"], &["74-89-5"], 5.0, C("W2")),
    listed("乙炔", &["电石气"], &["74-86-2"], 1.0, C("W2")),
    listed("乙烯", &["乙撑"], &["74-85-1"], 50.0, C("W2")),
    // 氧化性气体
    listed(
        "氧（压缩的或液化的）",
        &["氧", "氧气", "液氧"],
        &["7782-44-7"],
        200.0,
        C("W4"),
    ),
    // 易燃液体
    listed("苯", &["纯苯"], &["71-43-2"], 50.0, C("W5.3")),
    listed("苯乙烯", &["乙烯苯"], &["100-42-5"], 500.0, C("W5.4")),
    listed("丙酮", &["二甲基酮"], &["67-64-1"], 500.0, C("W5.3")),
    listed(
        "丙烯腈",
        &["2-丙烯腈", "乙烯基氰", "氰基乙烯"],
        &["107-13-1"],
        50.0,
        C("W5.3"),
    ),
    listed("二硫化碳", &[], &["75-15-0"], 50.0, C("W5.3")),
    listed("环己烷", &["六氢化苯"], &["110-82-7"], 500.0, C("W5.3")),
    listed(
        "1,2-环氧丙烷",
        &["氧化丙烯", "甲基环氧乙烷", "环氧丙烷"],
        &["75-56-9"],
        10.0,
        C("W5.1"),
    ),
    listed(
        "甲苯",
        &["甲基苯", "苯基甲烷"],
        &["108-88-3"],
        500.0,
        C("W5.3"),
    ),
    listed("甲醇", &["木醇", "木精"], &["67-56-1"], 500.0, C("W5.3")),
    listed(
        "汽油",
        &["乙醇汽油", "甲醇汽油"],
        &["86290-81-5", "8006-61-9"],
        200.0,
        C("W5.3"),
    ),
    listed(
        "乙醇",
        &["酒精", "无水乙醇"],
        &["64-17-5"],
        500.0,
        C("W5.3"),
    ),
    listed("乙醚", &["二乙基醚"], &["60-29-7"], 10.0, C("W5.1")),
    listed("乙酸乙酯", &["醋酸乙酯"], &["141-78-6"], 500.0, C("W5.3")),
    listed("正己烷", &["己烷"], &["110-54-3"], 500.0, C("W5.3")),
    // 易于自燃的物质
    listed("黄磷", &["白磷"], &["12185-10-3"], 50.0, C("W8")),
    listed("烷基铝", &["三烷基铝"], &[], 1.0, C("W8")),
    listed("戊硼烷", &["五硼烷"], &["19624-22-7"], 1.0, C("W8")),
    // 遇水放出易燃气体的物质
    listed("电石", &["碳化钙"], &["75-20-7"], 100.0, C("W11")),
    listed("钾", &["金属钾"], &["7440-09-7"], 1.0, C("W11")),
    listed("钠", &["金属钠"], &["7440-23-5"], 10.0, C("W11")),
    // 氧化性物质
    listed("发烟硫酸", &[], &["8014-95-7"], 100.0, C("W9.1")),
    listed("过氧化钾", &[], &["17014-71-0"], 20.0, C("W9.1")),
    listed("过氧化钠", &[], &["1313-60-6"], 20.0, C("W9.1")),
    listed("氯酸钾", &[], &["3811-04-9"], 100.0, C("W9.1")),
    listed("氯酸钠", &[], &["7775-09-9"], 100.0, C("W9.1")),
    listed("硝酸（发红烟的）", &["发红烟硝酸"], &[], 20.0, C("W9.1")),
    listed(
        "硝酸（发红烟的除外，含硝酸>70%）",
        &["硝酸"],
        &["7697-37-2"],
        100.0,
        C("W9.2"),
    ),
];

/// 表2 (categories of chemicals not named in 表1) with 表4's β:
/// (code, category, 临界量 t, β).
pub const TABLE_2: &[(&str, &str, f64, f64)] = &[
    ("J1", "急性毒性 类别1，所有暴露途径，气体", 5.0, 4.0),
    ("J2", "急性毒性 类别1，所有暴露途径，固体、液体", 50.0, 1.0),
    ("J3", "急性毒性 类别2、类别3，所有暴露途径，气体", 50.0, 2.0),
    (
        "J4",
        "急性毒性 类别2、类别3，吸入途径，液体（沸点≤35℃）",
        50.0,
        2.0,
    ),
    (
        "J5",
        "急性毒性 类别2，所有暴露途径，液体（除J4外）、固体",
        500.0,
        1.0,
    ),
    ("W1.1", "爆炸物 不稳定爆炸物、1.1项爆炸物", 1.0, 2.0),
    ("W1.2", "爆炸物 1.2、1.3、1.5、1.6项爆炸物", 10.0, 2.0),
    ("W1.3", "爆炸物 1.4项爆炸物", 50.0, 2.0),
    ("W2", "易燃气体 类别1和类别2", 10.0, 1.5),
    ("W3", "气溶胶 类别1和类别2", 150.0, 1.0),
    ("W4", "氧化性气体 类别1", 50.0, 1.0),
    (
        "W5.1",
        "易燃液体 类别1；类别2和3，工作温度高于沸点",
        10.0,
        1.5,
    ),
    (
        "W5.2",
        "易燃液体 类别2和3，具有引发重大事故的特殊工艺条件",
        50.0,
        1.0,
    ),
    ("W5.3", "易燃液体 不属于W5.1或W5.2的其他类别2", 1000.0, 1.0),
    ("W5.4", "易燃液体 不属于W5.1或W5.2的其他类别3", 5000.0, 1.0),
    ("W6.1", "自反应物质和混合物 A型和B型", 10.0, 1.5),
    ("W6.2", "自反应物质和混合物 C型、D型、E型", 50.0, 1.0),
    ("W7.1", "有机过氧化物 A型和B型", 10.0, 1.5),
    ("W7.2", "有机过氧化物 C型、D型、E型、F型", 50.0, 1.0),
    ("W8", "自燃液体和自燃固体 类别1", 50.0, 1.0),
    ("W9.1", "氧化性固体和液体 类别1", 50.0, 1.0),
    ("W9.2", "氧化性固体和液体 类别2、类别3", 200.0, 1.0),
    ("W10", "易燃固体 类别1", 200.0, 1.0),
    (
        "W11",
        "遇水放出易燃气体的物质和混合物 类别1和类别2",
        200.0,
        1.0,
    ),
];

fn category(code: &str) -> Option<&'static (&'static str, &'static str, f64, f64)> {
    let code = code.trim().to_ascii_uppercase();
    TABLE_2.iter().find(|c| c.0 == code)
}

/// Whether `code` is one of 表2's categories (J1 … W11).
pub fn category_ok(code: &str) -> bool {
    category(code).is_some()
}

/// 表5: α from the people living within 500 m of the site's boundary.
pub fn alpha(people_within_500m: i64) -> f64 {
    match people_within_500m {
        p if p >= 100 => 2.0,
        p if p >= 50 => 1.5,
        p if p >= 30 => 1.2,
        p if p >= 1 => 1.0,
        _ => 0.5,
    }
}

/// 重大危险源级别.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HazardGrade {
    First,
    Second,
    Third,
    Fourth,
}

impl HazardGrade {
    /// R ≥ 100 一级, 50 ≤ R < 100 二级, 10 ≤ R < 50 三级, R < 10 四级.
    pub fn of(r: f64) -> HazardGrade {
        if r >= 100.0 {
            HazardGrade::First
        } else if r >= 50.0 {
            HazardGrade::Second
        } else if r >= 10.0 {
            HazardGrade::Third
        } else {
            HazardGrade::Fourth
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            HazardGrade::First => "一级重大危险源",
            HazardGrade::Second => "二级重大危险源",
            HazardGrade::Third => "三级重大危险源",
            HazardGrade::Fourth => "四级重大危险源",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            HazardGrade::First => "grade 1 major hazard source",
            HazardGrade::Second => "grade 2 major hazard source",
            HazardGrade::Third => "grade 3 major hazard source",
            HazardGrade::Fourth => "grade 4 major hazard source",
        }
    }
}

/// Where a line's critical quantity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Named in 表1.
    Table1,
    /// By the category the line states (表2).
    Table2,
    /// In neither table and no category stated: no Q, left out of S.
    Unknown,
    /// The quantity is not a mass (箱, m³, L …): left out of S.
    NotMass,
}

/// One inventory line's part in S and R.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HazardLine {
    /// The inventory line (from 0).
    pub line: usize,
    pub chemical: String,
    pub basis: Basis,
    /// The 表1 name (or the 表2 category) it was matched to.
    pub matched: Option<String>,
    /// qᵢ, t.
    pub quantity_t: Option<f64>,
    /// Qᵢ, t.
    pub critical_t: Option<f64>,
    /// qᵢ/Qᵢ.
    pub ratio: Option<f64>,
    /// βᵢ (表3 or 表4).
    pub beta: Option<f64>,
}

/// The assessment of a site (GB 18218-2018).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HazardAssessment {
    pub lines: Vec<HazardLine>,
    /// S = Σ qᵢ/Qᵢ over the lines with a Q.
    pub s: f64,
    /// S ≥ 1: a major hazard source (重大危险源).
    pub major: bool,
    /// Σ βᵢ qᵢ/Qᵢ.
    pub weighted: f64,
    /// α (表5), when the people within 500 m are recorded.
    pub alpha: Option<f64>,
    /// R = α Σ βᵢ qᵢ/Qᵢ, when α is known.
    pub r: Option<f64>,
    /// The grade of a major hazard source whose R is known.
    pub grade: Option<HazardGrade>,
    pub grade_label: Option<&'static str>,
    /// Lines left out (chemical in neither table, or not a mass): S may be
    /// higher than shown.
    pub unknown_lines: usize,
}

/// Tonnes in one `unit`, if it is a mass.
fn tonnes_per(unit: &str) -> Option<f64> {
    match unit.trim() {
        "t" | "T" | "吨" | "噸" => Some(1.0),
        "kg" | "KG" | "Kg" | "千克" | "公斤" => Some(0.001),
        _ => None,
    }
}

/// A name as compared: no spaces, half-width brackets.
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '(' => '（',
            ')' => '）',
            c => c,
        })
        .collect()
}

/// The 表1 row of a line: by CAS number, else by name or alias, else by
/// the name before a bracketed note (“汽油（92#）”).
fn find(line: &InventoryLine) -> Option<&'static Listed> {
    if let Some(cas) = line.cas.as_deref().map(str::trim).filter(|c| !c.is_empty())
        && let Some(l) = TABLE_1.iter().find(|l| l.cas.contains(&cas))
    {
        return Some(l);
    }
    let name = norm(&line.chemical);
    let named = |n: &str| {
        TABLE_1
            .iter()
            .find(|l| norm(l.name) == n || l.aliases.iter().any(|a| norm(a) == n))
    };
    named(&name).or_else(|| {
        let head = name.split('（').next().unwrap_or("");
        (!head.is_empty() && head != name)
            .then(|| named(head))
            .flatten()
    })
}

fn line_of(i: usize, line: &InventoryLine) -> HazardLine {
    let quantity_t = tonnes_per(&line.unit).map(|k| line.max_quantity * k);
    let stated = line.gb18218_category.as_deref().and_then(category);
    let (basis, matched, critical_t, beta) = match (find(line), stated) {
        (Some(l), stated) => {
            // 表3 names its gases; otherwise the category the line states,
            // else the one the chemical is usually classed in.
            let beta = match l.beta {
                Beta::Named(b) => b,
                Beta::Category(c) => stated.or_else(|| category(c)).map_or(1.0, |c| c.3),
            };
            (
                Basis::Table1,
                Some(l.name.to_string()),
                Some(l.critical_t),
                Some(beta),
            )
        }
        (None, Some(c)) => (Basis::Table2, Some(c.0.to_string()), Some(c.2), Some(c.3)),
        (None, None) => (Basis::Unknown, None, None, None),
    };
    let basis = if quantity_t.is_none() && basis != Basis::Unknown {
        Basis::NotMass
    } else {
        basis
    };
    let ratio = match (quantity_t, critical_t) {
        (Some(q), Some(c)) if basis != Basis::NotMass => Some(q / c),
        _ => None,
    };
    HazardLine {
        line: i,
        chemical: line.chemical.clone(),
        basis,
        matched,
        quantity_t,
        critical_t,
        ratio,
        beta,
    }
}

/// S, R and the grade of an inventory (GB 18218-2018 §4.2, §4.3).
pub fn assess(lines: &[InventoryLine], people_within_500m: Option<i64>) -> HazardAssessment {
    let lines: Vec<HazardLine> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| line_of(i, l))
        .collect();
    // Folded from +0: an empty f64 `sum()` is -0, shown as "-0".
    let s = lines.iter().filter_map(|l| l.ratio).fold(0.0, |a, b| a + b);
    let weighted = lines
        .iter()
        .filter_map(|l| Some(l.ratio? * l.beta?))
        .fold(0.0, |a, b| a + b);
    // A hair under 1 from rounding (0.4 + 0.6) is still 1.
    let major = s >= 1.0 - 1e-9;
    let alpha = people_within_500m.map(alpha);
    let r = alpha.map(|a| a * weighted);
    let grade = r.filter(|_| major).map(|r| HazardGrade::of(r + 1e-9));
    HazardAssessment {
        unknown_lines: lines.iter().filter(|l| l.ratio.is_none()).count(),
        lines,
        s,
        major,
        weighted,
        alpha,
        r,
        grade,
        grade_label: grade.map(HazardGrade::label_zh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(chemical: &str, cas: Option<&str>, q: f64, unit: &str) -> InventoryLine {
        InventoryLine {
            chemical: chemical.into(),
            cas: cas.map(Into::into),
            un_number: None,
            hazard_class: None,
            gb18218_category: None,
            max_quantity: q,
            unit: unit.into(),
        }
    }

    #[test]
    fn nothing_stored_is_zero_not_minus_zero() {
        let a = assess(&[], Some(10));
        assert!(a.s == 0.0 && a.s.is_sign_positive(), "{}", a.s);
        assert!(a.weighted.is_sign_positive());
        assert_eq!(format!("{}", a.s), "0");
        assert!(!a.major);
    }

    #[test]
    fn worked_example() {
        // 液化石油气 20 t (Q 50) + 甲醇 300 t (Q 500): S = 0.4 + 0.6 = 1.0.
        let inv = [
            line("液化石油气", None, 20.0, "t"),
            line("甲醇", Some("67-56-1"), 300_000.0, "kg"),
        ];
        let a = assess(&inv, Some(40));
        assert!((a.s - 1.0).abs() < 1e-9, "{a:?}");
        assert!(a.major);
        assert_eq!(a.lines[0].critical_t, Some(50.0));
        assert_eq!(a.lines[1].critical_t, Some(500.0));
        assert!((a.lines[0].ratio.unwrap_or(0.0) - 0.4).abs() < 1e-9);
        // β: LPG 1.5 (W2), methanol 1 (W5.3); α 1.2 for 30–49 people.
        // R = 1.2 × (1.5 × 0.4 + 1 × 0.6) = 1.44 → 四级.
        assert!((a.weighted - 1.2).abs() < 1e-9);
        assert!((a.r.unwrap_or(0.0) - 1.44).abs() < 1e-9);
        assert_eq!(a.grade, Some(HazardGrade::Fourth));
        assert_eq!(a.unknown_lines, 0);
    }

    #[test]
    fn named_toxic_gas_grades_higher() {
        // 氯 20 t: S = 4, β 4 (表3), α 2 (≥ 100 people) → R = 32 → 三级.
        let a = assess(&[line("液氯", None, 20.0, "吨")], Some(150));
        assert!((a.s - 4.0).abs() < 1e-9);
        assert!((a.r.unwrap_or(0.0) - 32.0).abs() < 1e-9);
        assert_eq!(a.grade, Some(HazardGrade::Third));
        assert_eq!(HazardGrade::of(100.0), HazardGrade::First);
        assert_eq!(HazardGrade::of(50.0), HazardGrade::Second);
        assert_eq!(HazardGrade::of(9.99), HazardGrade::Fourth);
    }

    #[test]
    fn unknown_chemicals_are_flagged_not_guessed() {
        let mut diesel = line("柴油", None, 30.0, "t");
        let a = assess(
            &[diesel.clone(), line("汽油（92#）", None, 100.0, "m³")],
            None,
        );
        assert_eq!(a.lines[0].basis, Basis::Unknown);
        assert_eq!(a.lines[0].ratio, None);
        assert_eq!(a.lines[1].basis, Basis::NotMass, "m³ is no mass");
        assert_eq!(a.lines[1].matched.as_deref(), Some("汽油"));
        assert_eq!((a.s, a.major, a.unknown_lines), (0.0, false, 2));
        assert_eq!(a.r, None);
        // With its 表2 category stated (易燃液体类别3): Q 5000.
        diesel.gb18218_category = Some("W5.4".into());
        let a = assess(&[diesel], Some(0));
        assert_eq!(a.lines[0].basis, Basis::Table2);
        assert!((a.s - 30.0 / 5000.0).abs() < 1e-12);
        assert_eq!(a.alpha, Some(0.5));
        assert_eq!(a.grade, None, "not a major hazard source");
    }

    #[test]
    fn alpha_steps() {
        assert_eq!(
            [0, 1, 29, 30, 49, 50, 99, 100].map(alpha),
            [0.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 2.0]
        );
        assert!(category_ok("w5.3") && !category_ok("W12"));
    }
}
