//! Villages from the township's list: matched on the village code; a new
//! village needs its boundary (GeoJSON), a known one keeps its own when the
//! file has none.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::AnyConnection;

use super::cells;
use super::columns::{Col, Row, header};
use super::{Action, Ctx, ImportError, Importer, Planned, Problem};
use crate::registry::villages::{self, ValidVillage, VillageInput, VillageRow};

pub const COLUMNS: &[Col] = &[
    Col {
        field: "code",
        header: "村代码",
        aliases: &["代码", "编号", "村编码"],
        required: true,
        note: "字母、数字、-、_；用它识别同一村（重复导入不重复登记）",
        example: "S08",
    },
    Col {
        field: "name",
        header: "村名",
        aliases: &["名称", "村名称"],
        required: true,
        note: "",
        example: "坑头村",
    },
    Col {
        field: "name_en",
        header: "英文名",
        aliases: &["拼音"],
        required: false,
        note: "",
        example: "Kengtou",
    },
    Col {
        field: "area_code",
        header: "区划代码",
        aliases: &["统计用区划代码", "行政区划代码"],
        required: false,
        note: "12 位统计用区划代码",
        example: "350524208201",
    },
    Col {
        field: "population",
        header: "人口",
        aliases: &["户籍人口", "常住人口"],
        required: false,
        note: "整数",
        example: "1260",
    },
    Col {
        field: "boundary",
        header: "边界",
        aliases: &["村界", "边界GeoJSON"],
        required: false,
        note: "GeoJSON 多边形（Polygon 或 MultiPolygon，WGS-84）；新登记的村必填",
        example: "{\"type\":\"Polygon\",\"coordinates\":[[[118.1,25.0],[118.2,25.0],[118.2,25.1],[118.1,25.0]]]}",
    },
];

pub struct Villages;

pub enum Op {
    Create(Box<ValidVillage>),
    Update(i64, Box<ValidVillage>),
}

/// The stored village as the input that would store it again.
fn input_of(r: &VillageRow) -> VillageInput {
    VillageInput {
        code: r.code.clone(),
        name: r.name.clone(),
        name_en: r.name_en.clone(),
        boundary: serde_json::from_str(&r.boundary).unwrap_or(Value::Null),
        population: r.population,
        area_code: r.area_code.clone(),
        version: None,
    }
}

fn same(a: &VillageInput, b: &VillageInput) -> bool {
    (
        &a.code,
        &a.name,
        &a.name_en,
        &a.boundary,
        a.population,
        &a.area_code,
    ) == (
        &b.code,
        &b.name,
        &b.name_en,
        &b.boundary,
        b.population,
        &b.area_code,
    )
}

fn values(i: &VillageInput) -> Vec<(&'static str, String)> {
    let boundary = match &i.boundary {
        Value::Null => String::new(),
        b => format!(
            "{}（{}个点）",
            b.get("type").and_then(Value::as_str).unwrap_or("?"),
            b.to_string().matches('[').count().saturating_sub(2)
        ),
    };
    [
        ("村代码", i.code.clone()),
        ("村名", i.name.clone()),
        ("英文名", i.name_en.clone().unwrap_or_default()),
        ("区划代码", i.area_code.clone().unwrap_or_default()),
        (
            "人口",
            i.population.map(|p| p.to_string()).unwrap_or_default(),
        ),
        ("边界", boundary),
    ]
    .into()
}

impl Importer for Villages {
    type Op = Op;

    async fn plan(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        rows: &[Row],
    ) -> Result<Vec<Planned<Op>>, ImportError> {
        let stored: HashMap<String, VillageRow> = villages::live_in(conn, ctx.township)
            .await?
            .into_iter()
            .map(|v| (v.code.clone(), v))
            .collect();
        let mut first_row: HashMap<String, u32> = HashMap::new();
        Ok(rows
            .iter()
            .map(|row| plan_row(row, ctx, &stored, &mut first_row))
            .collect())
    }

    async fn apply(conn: &mut AnyConnection, ctx: &Ctx, op: Op) -> Result<(), ImportError> {
        let (code, written) = match op {
            Op::Create(v) => (
                v.code().to_string(),
                villages::insert_valid(conn, &v, ctx.township, false)
                    .await
                    .map(|_| ()),
            ),
            Op::Update(id, v) => (
                v.code().to_string(),
                villages::update_valid(conn, id, &v).await,
            ),
        };
        // A code or division code another township's village holds.
        written.map_err(|e| match villages::code_used(&code, e.into()) {
            crate::store::WriteError::Invalid(f) => {
                ImportError::Conflict(format!("村代码“{code}”：{}", f.message))
            }
            crate::store::WriteError::Store(s) => ImportError::Store(s),
            other => ImportError::Conflict(format!("村代码“{code}”无法保存：{other:?}")),
        })
    }
}

fn plan_row(
    row: &Row,
    ctx: &Ctx,
    stored: &HashMap<String, VillageRow>,
    first_row: &mut HashMap<String, u32>,
) -> Planned<Op> {
    let mut problems = Vec::new();
    let mut problem =
        |field: &str, m: String| problems.push(Problem::new(row.number, header(COLUMNS, field), m));
    let code = row.get("code").unwrap_or_default().to_string();
    match first_row.get(&code) {
        Some(first) => problem("code", format!("与第{first}行是同一村代码")),
        None => {
            first_row.insert(code.clone(), row.number);
        }
    }
    let existing = stored.get(&code);
    let before = existing.map(input_of);
    let mut input = before.clone().unwrap_or(VillageInput {
        code: code.clone(),
        name: String::new(),
        name_en: None,
        boundary: Value::Null,
        population: None,
        area_code: None,
        version: None,
    });
    if let Some(n) = row.get("name") {
        input.name = n.to_string();
    }
    if let Some(n) = row.get("name_en") {
        input.name_en = Some(n.to_string());
    }
    if let Some(a) = row.get("area_code") {
        input.area_code = Some(a.to_string());
    }
    if let Some(p) = row.get("population") {
        match cells::count(p) {
            Ok(n) => input.population = Some(n),
            Err(m) => problem("population", m),
        }
    }
    match row.get("boundary").map(serde_json::from_str::<Value>) {
        Some(Ok(b)) => input.boundary = b,
        Some(Err(_)) => problem(
            "boundary",
            "不是 GeoJSON（应为 Polygon 或 MultiPolygon）".into(),
        ),
        None if existing.is_none() => problem(
            "boundary",
            "新登记的村要有边界（GeoJSON 多边形，可在地图上画好后复制）".into(),
        ),
        None => {}
    }
    let shown = values(&input);
    if !problems.is_empty() {
        return Planned::refused(row, shown, problems);
    }
    let valid = match villages::validate(&input, &ctx.limits) {
        Ok(v) => v,
        Err(e) => {
            let column = match header(COLUMNS, &e.field) {
                "" => "村代码",
                h => h,
            };
            return Planned::refused(
                row,
                shown,
                vec![Problem::new(
                    row.number,
                    column,
                    format!("不符合要求：{}", e.message),
                )],
            );
        }
    };
    match (existing, before) {
        (Some(_), Some(b)) if same(&b, &input) => Planned::ok(row, Action::Unchanged, shown, None),
        (Some(e), _) => Planned::ok(
            row,
            Action::Update,
            shown,
            Some(Op::Update(e.id, Box::new(valid))),
        ),
        (None, _) => Planned::ok(
            row,
            Action::Create,
            shown,
            Some(Op::Create(Box::new(valid))),
        ),
    }
}
