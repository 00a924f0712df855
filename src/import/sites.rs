//! Sites from the office's ledger: matched on the unified social credit
//! code (required here: it is what says two rows are the same business);
//! the village by its name or code, else by the location within a
//! boundary; the inventory written as the ledger export writes it
//! (“汽油 8006-61-9 UN1203 10吨；柴油 10吨”).

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::cells;
use super::columns::{Col, Row, header};
use super::{Action, Ctx, ImportError, Importer, Planned, Problem};
use crate::ledger::export::{grade_zh, inventory_text, status_zh};
use crate::ledger::sites::{
    self, InventoryLine, Licence, Location, RiskGrade, SiteInput, SiteKind, SiteRow, SiteStatus,
    ValidSite,
};
use crate::registry::villages::VillageRow;

const fn col(
    field: &'static str,
    header: &'static str,
    aliases: &'static [&'static str],
    required: bool,
    note: &'static str,
    example: &'static str,
) -> Col {
    Col {
        field,
        header,
        aliases,
        required,
        note,
        example,
    }
}

pub const COLUMNS: &[Col] = &[
    col(
        "name",
        "单位名称",
        &["企业名称", "名称"],
        true,
        "营业执照上的名称",
        "湖上加油站",
    ),
    col(
        "kind",
        "类型",
        &["单位类型", "经营类型"],
        true,
        "危化品生产、危化品储存、危化品经营（带储存）、危化品经营（不带储存）、危化品使用、烟花爆竹批发、烟花爆竹零售、非煤矿山、加油站、瓶装燃气供应点、山塘/小水库（山塘的三个责任人在台账页面填写）",
        "危化品经营（带储存）",
    ),
    col(
        "credit_code",
        "统一社会信用代码",
        &["信用代码", "社会信用代码"],
        true,
        "18 位，用于识别同一单位（重复导入不重复登记）",
        "91350524MA2XXXXXXX",
    ),
    col(
        "village",
        "所属村",
        &["村", "所在村", "村名"],
        false,
        "村名或村代码；不填则按经纬度落在哪个村界内",
        "坑头村",
    ),
    col(
        "address",
        "地址",
        &["详细地址"],
        false,
        "",
        "湖上乡坑头村 12 号",
    ),
    col(
        "legal_representative",
        "法定代表人",
        &["法人", "法人代表"],
        false,
        "",
        "林建国",
    ),
    col(
        "safety_officer",
        "安全负责人",
        &["安全员"],
        false,
        "",
        "陈安全",
    ),
    col(
        "safety_officer_phone",
        "安全负责人电话",
        &["安全员电话", "联系电话"],
        false,
        "手机或座机",
        "139 5951 2468",
    ),
    col(
        "phone_24h",
        "24小时值班电话",
        &["值班电话"],
        false,
        "",
        "0595-2345 6789",
    ),
    col(
        "licence_no",
        "许可证号",
        &["许可证编号"],
        false,
        "",
        "(闽)WH〔2025〕0012",
    ),
    col(
        "licence_kind",
        "许可种类",
        &["许可范围"],
        false,
        "",
        "危险化学品经营许可证",
    ),
    col(
        "licence_issuer",
        "发证机关",
        &[],
        false,
        "",
        "安溪县应急管理局",
    ),
    col(
        "licence_issued",
        "发证日期",
        &[],
        false,
        "日期，如 2025-01-10",
        "2025-01-10",
    ),
    col(
        "licence_expires",
        "有效期至",
        &["有效期", "到期日期"],
        false,
        "日期；烟花爆竹零售许可最长 2 年",
        "2028-01-09",
    ),
    col(
        "max_stock",
        "核定储存量",
        &["限制存放量", "最大储存量"],
        false,
        "数字",
        "30",
    ),
    col(
        "max_stock_unit",
        "单位",
        &["储存量单位"],
        false,
        "填了核定储存量就要填单位",
        "吨",
    ),
    col(
        "inventory",
        "储存品种及最大储存量",
        &["储存品种"],
        false,
        "每种一项，用“；”分开：品名 [CAS号] [UN号] 数量单位",
        "汽油 8006-61-9 UN1203 20吨；柴油 10吨",
    ),
    col(
        "risk_grade",
        "风险等级",
        &["风险分级"],
        true,
        "重大、较大、一般、低",
        "较大",
    ),
    col(
        "status",
        "状态",
        &["经营状态"],
        false,
        "在营、停业整顿、已关闭；不填为在营",
        "在营",
    ),
    col("lon", "经度", &[], false, "WGS-84 度数", "118.1862"),
    col("lat", "纬度", &[], false, "WGS-84 度数", "25.0561"),
    col("note", "备注", &[], false, "", ""),
];

const KINDS: &[(&str, SiteKind)] = &[
    ("危化品生产", SiteKind::HazchemProduction),
    ("危化品储存", SiteKind::HazchemStorage),
    ("危化品经营（带储存）", SiteKind::HazchemTradeWithStorage),
    (
        "危化品经营（不带储存）",
        SiteKind::HazchemTradeWithoutStorage,
    ),
    ("危化品使用", SiteKind::HazchemUse),
    ("烟花爆竹批发", SiteKind::FireworksWholesale),
    ("烟花爆竹零售", SiteKind::FireworksRetail),
    ("非煤矿山", SiteKind::NonCoalMine),
    ("矿山", SiteKind::NonCoalMine),
    ("石场", SiteKind::NonCoalMine),
    ("加油站", SiteKind::FuelStation),
    ("瓶装燃气供应点", SiteKind::LpgSupplyPoint),
    ("液化气供应点", SiteKind::LpgSupplyPoint),
    ("山塘/小水库", SiteKind::PondReservoir),
    ("山塘", SiteKind::PondReservoir),
    ("小水库", SiteKind::PondReservoir),
];

const GRADES: &[(&str, RiskGrade)] = &[
    ("重大", RiskGrade::Major),
    ("较大", RiskGrade::Significant),
    ("一般", RiskGrade::General),
    ("低", RiskGrade::Low),
    ("红", RiskGrade::Major),
    ("橙", RiskGrade::Significant),
    ("黄", RiskGrade::General),
    ("蓝", RiskGrade::Low),
];

const STATUSES: &[(&str, SiteStatus)] = &[
    ("在营", SiteStatus::Active),
    ("正常", SiteStatus::Active),
    ("停业整顿", SiteStatus::Suspended),
    ("停业", SiteStatus::Suspended),
    ("已关闭", SiteStatus::Closed),
    ("关闭", SiteStatus::Closed),
    ("注销", SiteStatus::Closed),
];

pub struct Sites;

pub enum Op {
    Create(Box<ValidSite>, Option<i64>, bool),
    Update(i64, Box<ValidSite>, Option<i64>, bool),
}

/// The township's villages, to place each row.
struct Places {
    villages: Vec<VillageRow>,
    regions: Vec<(i64, crate::geometry::Region)>,
}

impl Places {
    fn named(&self, v: &str) -> Option<&VillageRow> {
        self.villages.iter().find(|r| r.name == v || r.code == v)
    }
    fn name_of(&self, id: Option<i64>) -> String {
        id.and_then(|id| self.villages.iter().find(|r| r.id == id))
            .map(|r| r.name.clone())
            .unwrap_or_default()
    }
    fn locate(&self, l: &Location) -> Option<i64> {
        self.regions
            .iter()
            .find(|(_, r)| r.contains(l.lon, l.lat))
            .map(|(id, _)| *id)
    }
}

/// The stored site as the input that would store it again.
fn input_of(row: &SiteRow) -> Option<SiteInput> {
    let phone = |p: &Option<String>| {
        p.as_deref()
            .and_then(|p| crate::phone::Phone::parse(p).ok())
    };
    Some(SiteInput {
        name: row.name.clone(),
        kind: SiteKind::parse(&row.kind)?,
        credit_code: row.credit_code.clone(),
        address: row.address.clone(),
        location: match (row.lon, row.lat) {
            (Some(lon), Some(lat)) => Some(Location { lon, lat }),
            _ => None,
        },
        village_id: row.village_id,
        legal_representative: row.legal_representative.clone(),
        safety_officer: row.safety_officer.clone(),
        safety_officer_phone: phone(&row.safety_officer_phone),
        phone_24h: phone(&row.phone_24h),
        licence: Some(Licence {
            number: row.licence_no.clone(),
            kind: row.licence_kind.clone(),
            issuer: row.licence_issuer.clone(),
            issued_on: row.licence_issued.clone(),
            expires_on: row.licence_expires.clone(),
        }),
        max_stock: row.max_stock,
        max_stock_unit: row.max_stock_unit.clone(),
        inventory: serde_json::from_str(&row.inventory).unwrap_or_default(),
        risk_grade: RiskGrade::parse(&row.risk_grade)?,
        status: SiteStatus::parse(&row.status)?,
        seasonal: row.seasonal != 0,
        note: row.note.clone(),
        details: sites::SiteDetails::from_json(&row.details),
        people_within_500m: row.people_within_500m,
        version: None,
    })
}

/// One inventory entry: 品名 [CAS号] [UN号] 数量单位.
fn inventory_line(entry: &str) -> Result<InventoryLine, String> {
    let mut tokens: Vec<&str> = entry.split_whitespace().collect();
    let bad = || format!("“{entry}”应写作：品名 [CAS号] [UN号] 数量单位，如“汽油 20吨”");
    let last = tokens.pop().ok_or_else(bad)?;
    let split = last
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(last.len());
    let (qty, unit) = if split == 0 {
        // “20 吨”: the unit stands alone.
        (tokens.pop().ok_or_else(bad)?, last)
    } else {
        (&last[..split], &last[split..])
    };
    let max_quantity = cells::amount(qty).map_err(|_| bad())?;
    if unit.is_empty() {
        return Err(bad());
    }
    let mut line = InventoryLine {
        chemical: String::new(),
        cas: None,
        un_number: None,
        hazard_class: None,
        gb18218_category: None,
        max_quantity,
        unit: unit.to_string(),
    };
    let mut name = Vec::new();
    for t in tokens {
        let un = t
            .strip_prefix("UN")
            .filter(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()));
        if sites::cas_ok(t) {
            line.cas = Some(t.to_string());
        } else if let Some(d) = un {
            line.un_number = Some(format!("UN{d}"));
        } else {
            name.push(t);
        }
    }
    line.chemical = name.join(" ");
    if line.chemical.is_empty() {
        return Err(bad());
    }
    Ok(line)
}

/// The inventory cell; what the file leaves out of a line (its hazard
/// class, say) is kept from the stored line of the same chemical.
fn inventory(v: &str, stored: &[InventoryLine]) -> Result<Vec<InventoryLine>, String> {
    let mut out = Vec::new();
    for entry in v
        .split(['；', ';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let mut line = inventory_line(entry)?;
        if let Some(old) = stored.iter().find(|o| o.chemical == line.chemical) {
            line.cas = line.cas.or_else(|| old.cas.clone());
            line.un_number = line.un_number.or_else(|| old.un_number.clone());
            line.hazard_class = old.hazard_class.clone();
            line.gb18218_category = old.gb18218_category.clone();
        }
        out.push(line);
    }
    Ok(out)
}

fn blank_input(kind: SiteKind, risk_grade: RiskGrade) -> SiteInput {
    SiteInput {
        name: String::new(),
        kind,
        credit_code: None,
        address: None,
        location: None,
        village_id: None,
        legal_representative: None,
        safety_officer: None,
        safety_officer_phone: None,
        phone_24h: None,
        licence: Some(Licence::default()),
        max_stock: None,
        max_stock_unit: None,
        inventory: Vec::new(),
        risk_grade,
        status: SiteStatus::Active,
        seasonal: false,
        note: None,
        details: sites::SiteDetails::default(),
        people_within_500m: None,
        version: None,
    }
}

/// The column of a field the domain's check names.
fn column_of(field: &str) -> &'static str {
    let f = match field {
        "location" => "lon",
        "village_id" => "village",
        "licence.number" => "licence_no",
        "licence.kind" => "licence_kind",
        "licence.issuer" => "licence_issuer",
        "licence.issued_on" => "licence_issued",
        "licence.expires_on" => "licence_expires",
        f if f.starts_with("inventory") => "inventory",
        f if f.starts_with("details") => "kind",
        f => f,
    };
    match header(COLUMNS, f) {
        "" => "单位名称",
        h => h,
    }
}

/// The file's cells over `input`, with the problems found.
fn apply_cells(row: &Row, input: &mut SiteInput, problems: &mut Vec<Problem>) {
    let mut problem =
        |field: &str, m: String| problems.push(Problem::new(row.number, header(COLUMNS, field), m));
    let text = |f: &str| row.get(f).map(str::to_string);
    if let Some(v) = text("name") {
        input.name = v;
    }
    if let Some(v) = row.get("kind") {
        match cells::choice(v, KINDS, "单位类型") {
            Ok(k) => input.kind = k,
            Err(m) => problem("kind", m),
        }
    }
    if let Some(v) = row.get("risk_grade") {
        match cells::choice(v, GRADES, "风险等级") {
            Ok(g) => input.risk_grade = g,
            Err(m) => problem("risk_grade", m),
        }
    }
    if let Some(v) = row.get("status") {
        match cells::choice(v, STATUSES, "经营状态") {
            Ok(s) => input.status = s,
            Err(m) => problem("status", m),
        }
    }
    for (field, slot) in [
        ("address", &mut input.address),
        ("legal_representative", &mut input.legal_representative),
        ("safety_officer", &mut input.safety_officer),
        ("max_stock_unit", &mut input.max_stock_unit),
        ("note", &mut input.note),
    ] {
        if let Some(v) = text(field) {
            *slot = Some(v);
        }
    }
    for (field, slot) in [
        ("safety_officer_phone", &mut input.safety_officer_phone),
        ("phone_24h", &mut input.phone_24h),
    ] {
        if let Some(v) = row.get(field) {
            match cells::phone(v) {
                Ok(p) => *slot = Some(p),
                Err(m) => problem(field, m),
            }
        }
    }
    let lic = input.licence.get_or_insert_with(Licence::default);
    for (field, slot) in [
        ("licence_no", &mut lic.number),
        ("licence_kind", &mut lic.kind),
        ("licence_issuer", &mut lic.issuer),
    ] {
        if let Some(v) = text(field) {
            *slot = Some(v);
        }
    }
    for (field, slot) in [
        ("licence_issued", &mut lic.issued_on),
        ("licence_expires", &mut lic.expires_on),
    ] {
        if let Some(v) = row.get(field) {
            match cells::date(v) {
                Ok(d) => *slot = Some(d),
                Err(m) => problem(field, m),
            }
        }
    }
    if let Some(v) = row.get("max_stock") {
        match cells::amount(v) {
            Ok(n) => input.max_stock = Some(n),
            Err(m) => problem("max_stock", m),
        }
    }
    if let Some(v) = row.get("inventory") {
        match inventory(v, &input.inventory) {
            Ok(lines) => input.inventory = lines,
            Err(m) => problem("inventory", m),
        }
    }
    match (row.get("lon"), row.get("lat")) {
        (None, None) => {}
        (Some(lon), Some(lat)) => match (
            cells::degree(lon, -180.0, 180.0),
            cells::degree(lat, -90.0, 90.0),
        ) {
            (Ok(lon), Ok(lat)) => input.location = Some(Location { lon, lat }),
            (Err(m), _) => problem("lon", m),
            (_, Err(m)) => problem("lat", m),
        },
        (Some(_), None) => problem("lat", "填了经度就要填纬度".into()),
        (None, Some(_)) => problem("lon", "填了纬度就要填经度".into()),
    }
}

fn values(input: &SiteInput, village: &str, outside: bool) -> Vec<(&'static str, String)> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let phone = |p: &Option<crate::phone::Phone>| {
        p.as_ref()
            .map(|p| crate::phone::dialled(p.as_str()))
            .unwrap_or_default()
    };
    let lic = input.licence.clone().unwrap_or_default();
    let num = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
    let village = if outside {
        "（不在任何村界内）".to_string()
    } else {
        village.to_string()
    };
    [
        ("单位名称", input.name.clone()),
        ("类型", input.kind.label_zh().to_string()),
        ("统一社会信用代码", s(&input.credit_code)),
        ("所属村", village),
        ("地址", s(&input.address)),
        ("法定代表人", s(&input.legal_representative)),
        ("安全负责人", s(&input.safety_officer)),
        ("安全负责人电话", phone(&input.safety_officer_phone)),
        ("24小时值班电话", phone(&input.phone_24h)),
        ("许可证号", s(&lic.number)),
        ("许可种类", s(&lic.kind)),
        ("发证机关", s(&lic.issuer)),
        ("发证日期", s(&lic.issued_on)),
        ("有效期至", s(&lic.expires_on)),
        ("核定储存量", num(input.max_stock)),
        ("单位", s(&input.max_stock_unit)),
        ("储存品种及最大储存量", inventory_text(&input.inventory)),
        ("风险等级", grade_zh(input.risk_grade.as_str()).to_string()),
        ("状态", status_zh(input.status.as_str()).to_string()),
        ("经度", num(input.location.as_ref().map(|l| l.lon))),
        ("纬度", num(input.location.as_ref().map(|l| l.lat))),
        ("备注", s(&input.note)),
    ]
    .into()
}

impl Importer for Sites {
    type Op = Op;

    async fn plan(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        rows: &[Row],
    ) -> Result<Vec<Planned<Op>>, ImportError> {
        let villages = crate::registry::villages::live_in(conn, ctx.township).await?;
        let places = Places {
            regions: villages
                .iter()
                .filter_map(|v| Some((v.id, v.region()?)))
                .collect(),
            villages,
        };
        let stored = sites::by_credit_code(conn, ctx.township).await?;
        let mut first_row: HashMap<String, u32> = HashMap::new();
        Ok(rows
            .iter()
            .map(|row| plan_row(row, ctx.show_values, &places, &stored, &mut first_row))
            .collect())
    }

    async fn apply(conn: &mut AnyConnection, ctx: &Ctx, op: Op) -> Result<(), ImportError> {
        match op {
            Op::Create(v, village, outside) => {
                sites::insert_valid(conn, &v, village, outside, ctx.township, false).await?;
            }
            Op::Update(id, v, village, outside) => {
                sites::update_valid(conn, id, &v, village, outside).await?;
            }
        }
        Ok(())
    }

    async fn apply_all(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        ops: Vec<Op>,
    ) -> Result<(), ImportError> {
        let mut new = Vec::new();
        for op in ops {
            match op {
                Op::Create(v, village, outside) => new.push((v, village, outside)),
                update => Self::apply(conn, ctx, update).await?,
            }
        }
        sites::insert_many(conn, &new, ctx.township).await?;
        Ok(())
    }
}

fn plan_row(
    row: &Row,
    show: bool,
    places: &Places,
    stored: &HashMap<String, SiteRow>,
    first_row: &mut HashMap<String, u32>,
) -> Planned<Op> {
    let mut problems = Vec::new();
    let code_col = header(COLUMNS, "credit_code");
    let code = row.get("credit_code").map(|c| c.to_uppercase());
    let code = match code {
        None => {
            problems.push(Problem::new(row.number, code_col, "必填：用它识别同一单位"));
            None
        }
        Some(c) if !sites::credit_code_ok(&c) => {
            problems.push(Problem::new(
                row.number,
                code_col,
                format!("“{c}”不是有效的 18 位统一社会信用代码（校验位不对）"),
            ));
            None
        }
        Some(c) => {
            if let Some(first) = first_row.get(&c) {
                problems.push(Problem::new(
                    row.number,
                    code_col,
                    format!("与第{first}行是同一统一社会信用代码"),
                ));
            } else {
                first_row.insert(c.clone(), row.number);
            }
            Some(c)
        }
    };
    let existing = code.as_ref().and_then(|c| stored.get(c));
    let before = existing.and_then(input_of);
    let mut input = before
        .clone()
        .unwrap_or_else(|| blank_input(SiteKind::HazchemStorage, RiskGrade::General));
    if before.is_none() {
        for f in ["name", "kind", "risk_grade"] {
            if row.get(f).is_none() {
                problems.push(Problem::new(row.number, header(COLUMNS, f), "必填"));
            }
        }
    }
    input.credit_code = code;
    apply_cells(row, &mut input, &mut problems);
    // The village: named, else where the location lies, else as stored.
    let mut outside = existing.is_some_and(|e| e.outside_villages != 0);
    if let Some(v) = row.get("village") {
        match places.named(v) {
            Some(found) => {
                input.village_id = Some(found.id);
                outside = false;
            }
            None => problems.push(Problem::new(
                row.number,
                header(COLUMNS, "village"),
                format!("本乡镇没有名为（或代码为）“{v}”的村"),
            )),
        }
    } else if row.get("lon").is_some()
        && let Some(l) = &input.location
    {
        input.village_id = places.locate(l);
        outside = input.village_id.is_none();
    }
    let shown = if show {
        values(&input, &places.name_of(input.village_id), outside)
    } else {
        Vec::new()
    };
    if !problems.is_empty() {
        return Planned::refused(row, shown, problems);
    }
    let valid = match sites::validate(input.clone()) {
        Ok(v) => v,
        Err(e) => {
            let p = Problem::new(
                row.number,
                column_of(&e.field),
                format!("不符合要求：{}", e.message),
            );
            return Planned::refused(row, shown, vec![p]);
        }
    };
    let village = input.village_id;
    match (existing, before) {
        (Some(_), Some(b)) if b == input => Planned::ok(row, Action::Unchanged, shown, None),
        (Some(e), _) => Planned::ok(
            row,
            Action::Update,
            shown,
            Some(Op::Update(e.id, Box::new(valid), village, outside)),
        ),
        (None, _) => Planned::ok(
            row,
            Action::Create,
            shown,
            Some(Op::Create(Box::new(valid), village, outside)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_as_the_ledger_writes_it() {
        let lines = inventory(
            "汽油 8006-61-9 UN1203 20吨；柴油 10 吨;液化石油气 1.5t",
            &[],
        )
        .unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].chemical, "汽油");
        assert_eq!(lines[0].cas.as_deref(), Some("8006-61-9"));
        assert_eq!(lines[0].un_number.as_deref(), Some("UN1203"));
        assert_eq!(
            (lines[0].max_quantity, lines[0].unit.as_str()),
            (20.0, "吨")
        );
        assert_eq!(
            (
                lines[1].chemical.as_str(),
                lines[1].max_quantity,
                lines[1].unit.as_str()
            ),
            ("柴油", 10.0, "吨")
        );
        assert_eq!((lines[2].max_quantity, lines[2].unit.as_str()), (1.5, "t"));
        assert!(inventory("汽油", &[]).is_err());
        assert!(inventory("20吨", &[]).is_err());
        // What the file leaves out is kept from the stored line.
        let stored = [InventoryLine {
            chemical: "汽油".into(),
            cas: Some("8006-61-9".into()),
            un_number: Some("UN1203".into()),
            hazard_class: Some("3".into()),
            gb18218_category: None,
            max_quantity: 5.0,
            unit: "吨".into(),
        }];
        let again = inventory("汽油 20吨", &stored).unwrap();
        assert_eq!(again[0].hazard_class.as_deref(), Some("3"));
        assert_eq!(again[0].cas.as_deref(), Some("8006-61-9"));
        assert_eq!(again[0].max_quantity, 20.0);
        // The export's text reads back as the lines it was made from.
        assert_eq!(
            inventory(&inventory_text(&stored), &stored).unwrap(),
            stored
        );
    }

    #[test]
    fn a_row_becomes_an_input_with_its_problems() {
        let row = Row::of(
            7,
            &[
                ("name", "湖上加油站"),
                ("kind", "危化品经营(带储存)"),
                ("risk_grade", "较大"),
                ("safety_officer_phone", "12345"),
                ("licence_expires", "明年"),
                ("lon", "118.1"),
            ],
        );
        let mut input = blank_input(SiteKind::HazchemStorage, RiskGrade::General);
        let mut problems = Vec::new();
        apply_cells(&row, &mut input, &mut problems);
        assert_eq!(input.kind, SiteKind::HazchemTradeWithStorage);
        assert_eq!(input.risk_grade, RiskGrade::Significant);
        let at: Vec<(u32, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_str()))
            .collect();
        assert_eq!(at, [(7, "安全负责人电话"), (7, "有效期至"), (7, "纬度")]);
    }
}
