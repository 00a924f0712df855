//! The audit trail in words: who did what to which record, field by field,
//! in the page's language. Keys the tables below do not know are shown in a
//! readable form ("recipient_id" → "recipient id"); nothing is shown as JSON.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::html::{contact_role_label, grade_label, kind_label, level_label, role_label};
use super::i18n::Lang;

/// Record kinds: (key, 中文, English).
pub const ENTITIES: &[(&str, &str, &str)] = &[
    ("site", "场所", "site"),
    ("inspection", "检查", "inspection"),
    ("finding", "隐患", "finding"),
    ("photo", "照片", "photo"),
    ("inspector", "执法人员", "inspector"),
    ("draw_plan", "双随机抽查计划", "draw plan"),
    ("disposition", "隐患处置", "disposition"),
    ("document", "执法文书", "enforcement document"),
    ("village", "村", "village"),
    ("contact", "联系人", "contact"),
    ("shelter", "避灾点", "shelter"),
    ("message_template", "通知模板", "message template"),
    ("group_robot", "工作群机器人", "work-group robot"),
    ("alert", "预警通知", "notice"),
    ("incident", "应急响应", "response"),
    ("incident_report", "事件报告", "incident report"),
    ("warning", "预警", "warning"),
    ("drill", "演练", "drill"),
    ("drill_record", "演练记录", "drill record"),
    ("daily_report", "汛期日报", "daily report"),
    ("duty_shift", "值班班次", "duty shift"),
    ("duty_handover", "交接班", "handover"),
    ("sms_path", "短信通道", "SMS path"),
    ("canary", "通道自检", "SMS path self-check"),
    ("plan", "预案", "plan"),
    ("user", "用户", "user"),
    ("token", "接口令牌", "API token"),
    ("import", "导入", "import"),
];

/// Actions: (key, 中文, English). The filter offers them by their Chinese
/// names and accepts either.
pub const ACTIONS: &[(&str, &str, &str)] = &[
    ("create", "新增", "created"),
    ("update", "修改", "changed"),
    ("archive", "归档", "archived"),
    ("activate", "启用", "activated"),
    ("send", "发送", "sent"),
    ("draft", "起草待签发", "drafted for sign-off"),
    ("approve", "签发", "approved"),
    ("reject", "退回", "rejected"),
    ("answer", "确认收到", "answered"),
    ("escalate", "升级叫应", "escalated"),
    ("open", "启动", "opened"),
    ("level", "调整响应级别", "changed the level of"),
    ("confirm", "确认", "confirmed"),
    ("close", "结束 / 销号", "closed"),
    ("warn", "发布预警", "issued"),
    ("lift", "解除预警", "lifted"),
    ("rectify", "整改", "rectified"),
    ("set_password", "设置密码", "set the password of"),
    ("reset_password", "重置密码", "reset the password of"),
    ("change_password", "修改密码", "changed the password of"),
    ("set_leader", "设置签发人", "set the leader permission of"),
    ("disable", "停用", "disabled"),
    ("enable", "启用", "enabled"),
    ("revoke", "吊销", "revoked"),
    ("undo", "撤销", "undid"),
    ("undo_answer", "撤销确认", "undid the answer of"),
    ("answer_undo", "撤销电话确认", "undid a phone answer to"),
    ("import", "导入", "imported"),
    ("ask", "询问", "asked for"),
    ("chase", "催报", "chased"),
    ("summarise", "汇总", "summarised"),
    ("delete", "删除", "deleted"),
    ("test", "发送测试消息", "sent a test message to"),
    ("switch", "切换", "switched"),
    ("fail", "判定未通过", "failed"),
    ("draw", "抽取", "drew"),
    ("issue", "制发", "issued"),
    ("correct", "更正", "corrected"),
];

pub fn entity_label(lang: Lang, e: &str) -> String {
    ENTITIES
        .iter()
        .find(|(n, _, _)| *n == e)
        .map_or_else(|| readable(e), |(_, zh, en)| lang.t(zh, en).to_string())
}

/// An action in words; "close" depends on what was closed.
pub fn action_label(lang: Lang, action: &str, entity: &str) -> String {
    match (action, entity) {
        ("close", "finding") => return lang.t("复查销号", "closed out").to_string(),
        ("close", "incident") => return lang.t("结束响应", "closed").to_string(),
        ("close", _) => return lang.t("结束", "closed").to_string(),
        ("create", "drill_record") => return lang.t("记录", "recorded").to_string(),
        ("create", "inspection") => return lang.t("记录", "recorded").to_string(),
        ("create", "photo") => return lang.t("上传", "uploaded").to_string(),
        ("draft", "drill") => return lang.t("退回草稿", "returned to draft").to_string(),
        _ => {}
    }
    ACTIONS.iter().find(|(k, _, _)| *k == action).map_or_else(
        || readable(action),
        |(_, zh, en)| lang.t(zh, en).to_string(),
    )
}

/// The action key a filter names: an English key as it is, or a Chinese
/// name ("修改", "升级叫应") for its key.
pub fn action_key(typed: &str) -> String {
    let t = typed.trim();
    ACTIONS
        .iter()
        .find(|(k, zh, en)| *k == t || *zh == t || en.eq_ignore_ascii_case(t))
        .map_or_else(|| t.to_string(), |(k, _, _)| (*k).to_string())
}

/// Who acted, in words: "web:demo" → "demo（网页）", "token:x" → "接口令牌 x",
/// "system:…" → "系统自动（…）", an SMS reply by its number.
pub fn actor_words(lang: Lang, actor: &str) -> String {
    let (kind, rest) = actor.split_once(':').unwrap_or((actor, ""));
    match kind {
        "web" => format!("{rest}{}", lang.t("（网页）", " (web)")),
        "token" => format!("{}{rest}", lang.t("接口令牌 ", "API token ")),
        "link" => format!("{rest}{}", lang.t("（短信中的确认链接）", " (answer link)")),
        "sms" => {
            let phone = rest.rsplit(':').next().unwrap_or(rest);
            format!(
                "{}{}{}",
                lang.t("短信回复（", "SMS reply ("),
                crate::phone::dialled(phone),
                lang.t("）", ")")
            )
        }
        "voice" => {
            let phone = rest.rsplit(':').next().unwrap_or(rest);
            format!(
                "{}{}{}",
                lang.t("电话按键（", "phone key ("),
                crate::phone::dialled(phone),
                lang.t("）", ")")
            )
        }
        "system" => {
            let what = match rest {
                "escalation" => lang.t("（升级叫应）", " (escalation)"),
                "drills" => lang.t("（演练提醒）", " (drill reminders)"),
                "daily-reports" => lang.t("（汛期日报）", " (daily reports)"),
                "observations" => lang.t("（观测）", " (observations)"),
                "paths" => lang.t("（短信通道切换）", " (SMS paths)"),
                "canary" => lang.t("（通道自检）", " (SMS self-check)"),
                "supervision" => lang.t("（挂牌督办提醒）", " (supervision reminders)"),
                "" => "",
                other => {
                    return format!("{}（{}）", lang.t("系统自动", "automatic"), readable(other));
                }
            };
            format!("{}{what}", lang.t("系统自动", "automatic"))
        }
        "cli" => lang.t("命令行", "command line").to_string(),
        "demo-loader" => lang.t("演示数据", "demo data").to_string(),
        _ => actor.to_string(),
    }
}

/// A key nobody labelled, readable: "recipient_id" → "recipient id".
pub fn readable(key: &str) -> String {
    key.replace(['_', '-'], " ")
}

/// Field names in words, by record kind first, then for all kinds.
fn field_label(lang: Lang, entity: &str, key: &str) -> String {
    let specific: Option<(&str, &str)> = match (entity, key) {
        ("contact", "name") => Some(("姓名", "name")),
        ("alert", "name") => Some(("叫应对象", "person")),
        ("contact", "phone") => Some(("手机", "phone")),
        ("user" | "token", "name") => Some(("用户名", "user name")),
        ("user" | "token", "role") => Some(("权限", "role")),
        ("village", "code") => Some(("村代码", "village code")),
        ("shelter", "phone") => Some(("管理员电话", "manager's phone")),
        ("message_template", "name") => Some(("模板名称", "name")),
        ("message_template", "title") => Some(("标题", "title")),
        ("message_template", "channels") => Some(("建议渠道", "channels")),
        ("duty_shift", "leader") => Some(("带班领导", "leader on shift")),
        ("duty_shift", "kind_label") => Some(("班次", "shift")),
        ("duty_handover", "from") => Some(("交班人", "handed over by")),
        ("duty_handover", "to") => Some(("接班人", "taken over by")),
        ("duty_handover", "at") => Some(("交接时间", "handed over at")),
        ("duty_handover", "notes") => Some(("交接事项", "what was handed over")),
        ("group_robot", "name") => Some(("机器人名称", "robot name")),
        ("group_robot", "webhook") => Some(("Webhook 地址（已遮盖）", "webhook address (masked)")),
        ("group_robot", "secret") => Some(("密钥（已遮盖）", "secret (masked)")),
        ("group_robot", "kind_label") => Some(("类型", "kind")),
        ("group_robot", "active") => Some(("启用", "active")),
        ("group_robot", "post") => Some(("消息编号", "post")),
        ("drill", "active") => Some(("已启用", "active")),
        ("drill", "title") | ("alert", "title") => Some(("标题", "title")),
        ("finding", "item") => Some(("隐患", "item")),
        ("finding", "grade") => Some(("隐患等级", "grade")),
        ("licence", "number") => Some(("许可证编号", "licence number")),
        ("licence", "kind") => Some(("许可证类别", "licence kind")),
        ("incident", "level") | ("incident", "pending_level") => {
            Some(("响应级别", "response level"))
        }
        ("alert", "status") | ("incident", "status") | ("finding", "status") => {
            Some(("状态", "status"))
        }
        _ => None,
    };
    if let Some((zh, en)) = specific {
        return lang.t(zh, en).to_string();
    }
    FIELDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or_else(|| readable(key), |(_, zh, en)| lang.t(zh, en).to_string())
}

/// Field names for every audited record kind.
const FIELDS: &[(&str, &str, &str)] = &[
    ("file", "文件", "file"),
    ("sha256", "文件 SHA-256", "file SHA-256"),
    ("records", "导入内容", "records"),
    ("rows", "行数", "rows"),
    ("created", "新增", "created"),
    ("updated", "更新", "updated"),
    ("unchanged", "不变", "unchanged"),
    ("skipped_rows", "跳过的行", "rows left out"),
    ("id", "编号", "id"),
    ("name", "名称", "name"),
    ("name_en", "英文名", "English name"),
    ("code", "编号", "code"),
    ("title", "标题", "title"),
    ("note", "备注", "note"),
    ("status", "状态", "status"),
    ("sample", "示例数据", "sample data"),
    ("archived", "已归档", "archived"),
    ("village_id", "所属村", "village"),
    ("villages", "村", "villages"),
    ("phone", "电话", "phone"),
    ("email", "邮箱", "e-mail"),
    ("roles", "角色", "roles"),
    ("role", "角色", "role"),
    ("active", "在用", "active"),
    ("created_at", "创建时间", "created"),
    ("updated_at", "修改时间", "changed"),
    // Sites.
    ("kind", "类别", "kind"),
    ("credit_code", "统一社会信用代码", "credit code"),
    ("address", "地址", "address"),
    ("location", "经纬度", "location"),
    ("lon", "经度", "longitude"),
    ("lat", "纬度", "latitude"),
    ("outside_villages", "不在任何村内", "outside every village"),
    ("legal_representative", "法定代表人", "legal representative"),
    ("safety_officer", "安全负责人", "safety officer"),
    (
        "safety_officer_phone",
        "安全负责人电话",
        "safety officer's phone",
    ),
    ("phone_24h", "24 小时值班电话", "24-hour phone"),
    ("licence", "许可证", "licence"),
    ("number", "编号", "number"),
    ("issuer", "发证机关", "issuer"),
    ("issued_on", "发证日期", "issued on"),
    ("expires_on", "有效期至", "expires on"),
    ("max_stock", "核定储存量", "permitted stock"),
    ("max_stock_unit", "储存量单位", "stock unit"),
    ("inventory", "库存", "inventory"),
    ("chemical", "化学品", "chemical"),
    ("cas", "CAS 号", "CAS number"),
    ("un_number", "UN 号", "UN number"),
    ("hazard_class", "危险类别", "hazard class"),
    ("max_quantity", "最大存量", "maximum quantity"),
    ("unit", "单位", "unit"),
    ("over_stock", "超出核定储存量", "over the permitted stock"),
    ("risk_grade", "风险等级", "risk grade"),
    ("seasonal", "季节性经营", "seasonal"),
    ("details", "专项信息", "details of its kind"),
    ("pond", "山塘/小水库", "pond / small reservoir"),
    (
        "capacity_10k_m3",
        "总库容（万立方米）",
        "capacity (10,000 m³)",
    ),
    ("dam_height_m", "坝高（米）", "dam height (m)"),
    ("administrative", "行政责任人", "administrative person"),
    ("technical", "技术责任人", "technical person"),
    ("patrol", "巡查责任人", "patrol person"),
    ("mine", "非煤矿山", "non-coal mine"),
    ("mining_licence_no", "采矿许可证号", "mining licence"),
    (
        "mining_licence_expires",
        "采矿许可证有效期至",
        "mining licence expires on",
    ),
    ("mine_type", "开采方式", "mine type"),
    ("tailings_pond", "尾矿库", "tailings pond"),
    ("fuel_station", "加油站", "fuel station"),
    ("tank_count", "储罐数量", "tanks"),
    ("tank_volume_m3", "储罐总容积（立方米）", "tank volume (m³)"),
    (
        "retail_licence_no",
        "成品油零售经营批准证书",
        "fuel retail licence",
    ),
    ("lpg", "瓶装燃气供应点", "bottled gas point"),
    ("gas_licence_no", "燃气经营许可证", "gas licence"),
    ("max_cylinders", "最大储存气瓶数", "most cylinders stored"),
    ("sale_season", "销售季节", "sale season"),
    ("from", "自", "from"),
    ("to", "至", "to"),
    (
        "people_within_500m",
        "周边 500 米内常住人口",
        "people within 500 m",
    ),
    ("gb18218_category", "GB 18218 类别", "GB 18218 category"),
    ("hazard", "重大危险源辨识", "major hazard assessment"),
    (
        "out_of_season_stock",
        "季节外储存",
        "stock outside the sale season",
    ),
    ("lines", "明细", "lines"),
    ("major", "构成重大危险源", "major hazard source"),
    ("weighted", "Σβq/Q", "Σβq/Q"),
    ("alpha", "校正系数 α", "α"),
    ("beta", "校正系数 β", "β"),
    ("grade_label", "重大危险源级别", "hazard grade"),
    ("unknown_lines", "未计入的库存行", "lines left out"),
    ("basis", "依据", "basis"),
    ("matched", "对应品名", "matched"),
    ("quantity_t", "q（吨）", "q (t)"),
    ("critical_t", "临界量 Q（吨）", "critical quantity Q (t)"),
    ("ratio", "q/Q", "q/Q"),
    // Villages.
    ("boundary", "边界", "boundary"),
    ("population", "人口", "population"),
    ("area_code", "统计用区划代码", "division code"),
    // Contacts and shelters.
    ("escalation_order", "叫应顺序", "escalation order"),
    ("capacity", "容纳人数", "capacity"),
    ("manager", "管理员", "manager"),
    // Message templates.
    ("category", "类别", "category"),
    ("category_label", "类别", "category"),
    ("body", "正文", "text"),
    ("notice_title", "标题（发送时的变量形式）", "title as sent"),
    ("notice_body", "正文（发送时的变量形式）", "text as sent"),
    ("variables", "使用的变量", "variables used"),
    // Drills and their records.
    ("plan_id", "预案", "plan"),
    ("cron", "安排", "schedule"),
    ("at", "时间", "at"),
    ("timezone", "时区", "time zone"),
    ("lead_times", "提前提醒", "reminders"),
    ("remind_before", "提前提醒", "reminders"),
    ("site_id", "台账场所", "ledger site"),
    ("source", "来源", "source"),
    ("activated_at", "启用时间", "activated"),
    ("drill_id", "演练", "drill"),
    ("held_on", "演练日期", "held on"),
    ("participants", "参加人员", "participants"),
    ("duration_minutes", "时长（分钟）", "length (minutes)"),
    ("problems", "发现的问题", "problems found"),
    ("follow_up", "整改措施", "follow-up"),
    ("answer_stats", "确认情况", "answers"),
    ("field", "项目", "field"),
    ("problem", "问题", "problem"),
    // Inspections and findings.
    ("inspection_id", "检查记录", "inspection"),
    ("inspected_on", "检查日期", "inspected on"),
    ("inspectors", "检查人员", "inspectors"),
    ("summary", "检查情况", "summary"),
    ("findings", "隐患", "findings"),
    ("grade", "等级", "grade"),
    ("item", "隐患", "item"),
    ("description", "描述", "description"),
    ("measures", "整改措施", "measures"),
    ("funding", "整改资金", "funding"),
    ("responsible", "责任人", "responsible"),
    ("deadline", "整改期限", "deadline"),
    ("reinspector", "复查人", "re-inspector"),
    ("rectified_on", "整改完成日期", "rectified on"),
    ("rectification_note", "整改情况", "what was done"),
    ("closed_on", "销号日期", "closed out on"),
    ("closed_by", "销号人", "closed out by"),
    // Photos of inspections and rectifications.
    ("owner_kind", "所属记录", "attached to"),
    ("owner_id", "所属记录编号", "record number"),
    ("tag", "照片类别", "photo of"),
    ("content_type", "文件类型", "file type"),
    ("size_bytes", "大小（字节）", "size (bytes)"),
    ("file_name", "原文件名", "original file name"),
    ("caption", "说明", "caption"),
    ("taken_at", "拍摄时间", "taken at"),
    // Inspectors and 双随机 draws.
    ("inspector_ids", "执法人员", "inspectors"),
    ("certificate_no", "执法证号", "certificate no."),
    ("valid_from", "有效期自", "valid from"),
    ("valid_until", "有效期至", "valid until"),
    ("home_village_id", "居住村", "home village"),
    ("conflict_site_ids", "需回避的单位", "declared conflicts"),
    ("period_from", "抽查期间自", "period from"),
    ("period_to", "抽查期间至", "period to"),
    ("site_kinds", "单位类型", "site kinds"),
    ("risk_grades", "风险等级", "risk grades"),
    ("village_ids", "村", "villages"),
    ("object_count", "抽取单位数", "sites to draw"),
    ("team_size", "每组人数", "team size"),
    ("created_by", "制定人", "made by"),
    ("draw", "抽取结果", "the draw"),
    ("drawn_at", "抽取时间", "drawn at"),
    ("drawn_by", "抽取人", "drawn by"),
    ("algorithm", "抽取方法", "algorithm"),
    ("public_value", "公开值", "public value"),
    ("canonical", "规范文本", "canonical text"),
    ("seed", "随机种子", "seed"),
    ("objects", "检查对象名单", "objects"),
    ("picks", "抽中的对象", "picks"),
    ("site", "检查对象", "site"),
    ("recused", "回避人员", "recused"),
    ("outcome", "检查结果", "outcome"),
    ("village", "村", "village"),
    ("checklist_item", "检查表条目", "checklist item"),
    // Dispositions and documents.
    ("decided_on", "决定日期", "decided on"),
    ("decided_by", "决定人", "decided by"),
    ("recorded_by", "记录人", "recorded by"),
    ("exemption_item", "免罚清单条目", "no-penalty list entry"),
    ("referred_to", "移送单位", "referred to"),
    ("document_id", "执法文书", "document"),
    ("document_number", "文书编号", "document number"),
    ("document_ref", "文书编号", "document number"),
    ("finding_id", "隐患", "finding"),
    ("supersedes", "更正的文书", "corrects"),
    // Notices, answers, escalation.
    ("level", "级别", "level"),
    ("exercise", "演练", "exercise"),
    ("channels", "发送方式", "channels"),
    ("targets", "发送对象", "recipients"),
    ("request", "选择的对象", "as chosen"),
    ("contacts", "指定联系人", "named contacts"),
    ("area", "范围", "area"),
    ("circle", "圆形范围", "circle"),
    ("radius_m", "半径（米）", "radius (m)"),
    ("township", "乡级人员", "township staff"),
    ("site_kinds", "场所类别", "site kinds"),
    ("recipient_id", "收件人", "recipient"),
    ("via", "确认方式", "answered by"),
    ("counted", "首次确认", "first answer"),
    ("answered", "已确认", "answered"),
    ("answered_at", "确认时间", "answered at"),
    ("repeat", "重发", "repeat"),
    ("told", "已告知", "told"),
    ("step", "叫应级次", "escalation step"),
    ("author", "起草人", "drafted by"),
    ("approved_by", "签发人", "approved by"),
    ("rejected_by", "退回人", "rejected by"),
    ("reason", "理由", "reason"),
    // Responses and warnings.
    ("plan", "预案", "plan"),
    ("warning", "预警", "warning"),
    ("notices", "发出通知", "notices"),
    ("skipped", "未重复发送的村", "villages skipped"),
    ("lifted", "已解除", "lifted"),
    ("leader", "带班领导（签发人）", "leader"),
    ("full_name", "姓名", "full name"),
    ("disabled", "已停用", "disabled"),
    // The duty roster and what escalation asked it.
    ("date", "日期", "day"),
    ("start", "开始时间", "starts"),
    ("end", "结束时间", "ends"),
    ("officers", "值班员", "duty officers"),
    ("contact_id", "联系人", "contact"),
    ("available", "可叫应", "reachable"),
    ("recorded_by", "记录人", "recorded by"),
    ("shift_id", "值班班次", "duty shift"),
    ("roster", "值班表", "duty roster"),
    (
        "gap",
        "值班表缺口（改为通知持有该职务的人）",
        "roster gap (the role's holders told)",
    ),
    (
        "all_told",
        "当班人员均已通知",
        "everyone on shift already told",
    ),
];

/// What a page needs to put values in words: village names by id and by
/// code, recipients' names.
#[derive(Default)]
pub struct Names {
    pub villages: HashMap<i64, String>,
    pub by_code: HashMap<String, String>,
    pub recipients: HashMap<i64, String>,
    /// Plan titles by plan id.
    pub plans: HashMap<String, String>,
}

/// Values in words for one page.
pub struct Words<'a> {
    pub lang: Lang,
    pub names: &'a Names,
    /// The office's zone, for times kept in milliseconds.
    pub tz: chrono_tz::Tz,
}

/// Fields an entry never shows: bookkeeping, or a label the key beside it
/// already gives.
const HIDDEN: &[&str] = &[
    "version",
    "updated_at",
    "created_at",
    "kind_label",
    "risk_colour",
    "status_label",
    "next_occurrences",
    "level_label",
];

/// One line of what an entry changed.
pub enum Change {
    /// A field of an update: label, before, after.
    Field(String, String, String),
    /// A field of anything else: label, value.
    Value(String, String),
}

impl Words<'_> {
    fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        self.lang.t(zh, en)
    }

    fn none(&self) -> String {
        self.t("（无）", "(none)").to_string()
    }

    /// The record's own name, from what was kept of it (an escalation's
    /// "name" is the person's, not the notice's).
    pub fn record_name(
        entity: &str,
        before: &Option<Value>,
        after: &Option<Value>,
    ) -> Option<String> {
        let keys: &[&str] = match entity {
            "alert" | "drill" => &["title"],
            "warning" => &["warning", "title"],
            "finding" => &["item"],
            "document" => &["number"],
            "import" => &["file"],
            "incident" | "drill_record" | "inspection" => &[],
            _ => &["name", "title"],
        };
        for v in [after, before].into_iter().flatten() {
            if let Value::Object(m) = v {
                for k in keys {
                    if let Some(Value::String(s)) = m.get(*k)
                        && !s.trim().is_empty()
                    {
                        return Some(s.clone());
                    }
                }
            }
        }
        None
    }

    /// The changed fields of an update; the fields of anything else.
    pub fn changes(
        &self,
        entity: &str,
        before: &Option<Value>,
        after: &Option<Value>,
    ) -> Vec<Change> {
        let shown = |k: &str| !HIDDEN.contains(&k);
        match (before, after) {
            (Some(Value::Object(b)), Some(Value::Object(a))) => {
                let mut keys: Vec<&String> = a.keys().filter(|k| shown(k)).collect();
                keys.extend(b.keys().filter(|k| shown(k) && !a.contains_key(*k)));
                keys.sort_by_key(|k| field_rank(k));
                keys.into_iter()
                    .filter_map(|k| {
                        let bv = b.get(k).unwrap_or(&Value::Null);
                        let av = a.get(k).unwrap_or(&Value::Null);
                        (bv != av).then(|| {
                            Change::Field(
                                field_label(self.lang, entity, k),
                                self.value(entity, k, bv),
                                self.value(entity, k, av),
                            )
                        })
                    })
                    .collect()
            }
            (_, Some(Value::Object(a))) => {
                let mut fields: Vec<(&String, &Value)> = a
                    .iter()
                    .filter(|(k, v)| shown(k) && !blank(v) && !quiet(entity, k, v, a))
                    .collect();
                fields.sort_by_key(|(k, _)| field_rank(k));
                fields
                    .into_iter()
                    .map(|(k, v)| {
                        Change::Value(field_label(self.lang, entity, k), self.value(entity, k, v))
                    })
                    .collect()
            }
            (_, Some(v)) if !v.is_null() => {
                vec![Change::Value(
                    self.t("内容", "content").to_string(),
                    self.value(entity, "", v),
                )]
            }
            _ => Vec::new(),
        }
    }

    /// A value in words: phones as dialled, codes by name, yes/no, lists
    /// joined; a string that holds JSON is read as what it holds.
    pub fn value(&self, entity: &str, key: &str, v: &Value) -> String {
        let s = self.value_inner(entity, key, v, 0);
        if s.chars().count() > 300 {
            format!("{}…", s.chars().take(300).collect::<String>())
        } else {
            s
        }
    }

    fn value_inner(&self, entity: &str, key: &str, v: &Value, depth: usize) -> String {
        let lang = self.lang;
        if key == "boundary" {
            return match v {
                Value::Null => self.none(),
                Value::String(s) if s.trim().is_empty() || s.trim() == "null" => self.none(),
                _ => self.t("已划定边界", "boundary drawn").to_string(),
            };
        }
        if key == "answer_stats" {
            return match v {
                Value::Null => self.none(),
                _ => self.t("已计算", "computed").to_string(),
            };
        }
        match v {
            Value::Null => self.none(),
            Value::Bool(b) => (if *b {
                self.t("是", "yes")
            } else {
                self.t("否", "no")
            })
            .to_string(),
            Value::Number(n) => self.number(entity, key, n),
            Value::String(s) => {
                let t = s.trim();
                if (t.starts_with('{') || t.starts_with('['))
                    && let Ok(inner) = serde_json::from_str::<Value>(t)
                    && (inner.is_object() || inner.is_array())
                {
                    return self.value_inner(entity, key, &inner, depth);
                }
                if entity == "message_template" {
                    // A template's text as the office writes it: 〔姓名〕, not {name}.
                    return crate::notify::intake::template::to_chinese(s);
                }
                self.string(entity, key, s)
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return self.none();
                }
                let sep = if items.iter().any(Value::is_object) {
                    self.t("；", "; ")
                } else {
                    self.t("、", ", ")
                };
                let item_key = match key {
                    "villages" | "skipped" => "village_id",
                    "findings" => "finding",
                    "inventory" => "inventory_line",
                    other => other,
                };
                let shown: Vec<String> = items
                    .iter()
                    .take(20)
                    .map(|i| self.value_inner(entity, item_key, i, depth + 1))
                    .collect();
                let more = items.len().saturating_sub(20);
                let mut out = shown.join(sep);
                if more > 0 {
                    out.push_str(&match lang {
                        Lang::Zh => format!("等 {} 项", items.len()),
                        Lang::En => format!(" and {more} more"),
                    });
                }
                out
            }
            Value::Object(m) => self.object(entity, key, m, depth),
        }
    }

    fn number(&self, entity: &str, key: &str, n: &serde_json::Number) -> String {
        let lang = self.lang;
        match (key, n.as_i64()) {
            ("village_id", Some(id)) => self
                .names
                .villages
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("#{id}")),
            ("recipient_id", Some(id)) => self
                .names
                .recipients
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("#{id}")),
            ("level" | "pending_level", Some(l)) => level_label(lang, Some(l)).to_string(),
            ("step", Some(s)) => match lang {
                Lang::Zh => format!("第 {s} 级"),
                Lang::En => format!("step {s}"),
            },
            ("repeat", Some(r)) => match lang {
                Lang::Zh => format!("第 {r} 次"),
                Lang::En => format!("{r}"),
            },
            ("site_id" | "drill_id" | "inspection_id" | "owner_id" | "contacts", Some(id)) => {
                format!("#{id}")
            }
            // A time kept in milliseconds.
            (k, Some(ms)) if k.ends_with("_at") && ms > 1_000_000_000_000 => {
                crate::time::fmt_ms(ms, self.tz)
                    .replace('T', " ")
                    .chars()
                    .take(16)
                    .collect()
            }
            _ => {
                let _ = entity;
                match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => i.to_string(),
                    (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
                    _ => n.to_string(),
                }
            }
        }
    }

    fn string(&self, entity: &str, key: &str, s: &str) -> String {
        let lang = self.lang;
        if s.is_empty() {
            return self.none();
        }
        if key.contains("phone") || (key == "address" && s.starts_with('+')) {
            return crate::phone::dialled(s);
        }
        match key {
            "kind" if entity == "site" => return kind_label(lang, s).to_string(),
            "tag" if entity == "photo" => {
                return crate::ledger::photos::Tag::parse(s).map_or_else(
                    || s.to_string(),
                    |t| {
                        let (zh, en) = t.words();
                        lang.t(zh, en).to_string()
                    },
                );
            }
            "owner_kind" => {
                return match s {
                    "inspection" => lang.t("检查", "inspection"),
                    "finding" => lang.t("隐患整改", "finding"),
                    other => return other.to_string(),
                }
                .to_string();
            }
            "site_kinds" => return kind_label(lang, s).to_string(),
            "risk_grade" => return grade_label(lang, s).to_string(),
            "grade" => {
                return match s {
                    "major" => lang.t("重大隐患", "major"),
                    "general" => lang.t("一般隐患", "general"),
                    other => return other.to_string(),
                }
                .to_string();
            }
            "role" => {
                return crate::auth::Role::parse(s)
                    .map_or_else(|| s.to_string(), |r| role_label(lang, r).to_string());
            }
            "roles" => return contact_role_label(lang, s),
            "village_id" | "villages" | "skipped" => {
                if s == "all" {
                    return lang.t("全部村", "all villages").to_string();
                }
                return match self.names.by_code.get(s) {
                    Some(n) => format!("{n}（{s}）"),
                    None => s.to_string(),
                };
            }
            "channels" => {
                return match s {
                    "sms" => lang.t("短信", "SMS"),
                    "email" => lang.t("邮件", "e-mail"),
                    "voice" => lang.t("语音电话", "voice call"),
                    other => return other.to_string(),
                }
                .to_string();
            }
            "via" => {
                return match s {
                    "link" => lang.t("短信中的确认链接", "answer link"),
                    "sms" => lang.t("短信回复", "SMS reply"),
                    "phone" => lang.t("电话", "phone"),
                    "voice" => lang.t("电话按键", "phone key"),
                    other => return other.to_string(),
                }
                .to_string();
            }
            "lead_times" | "remind_before" => {
                return s
                    .parse::<crate::plans::LeadTime>()
                    .map_or_else(|_| s.to_string(), |t| super::plans::lead_words(lang, t));
            }
            "cron" => return crate::plans::cron_words(s),
            "plan" | "plan_id" => {
                return match self.names.plans.get(s) {
                    Some(title) => format!("{title}（{s}）"),
                    None => s.to_string(),
                };
            }
            "status" => return status_words(lang, entity, s),
            "source" => {
                return match s {
                    "plan" => lang.t("预案", "plan"),
                    "api" | "manual" => lang.t("手工录入", "entered by hand"),
                    other => return other.to_string(),
                }
                .to_string();
            }
            _ => {}
        }
        // Times kept as 2026-11-30T09:00:00+08:00 read as 2026-11-30 09:00.
        if s.len() >= 16
            && s.as_bytes().get(10) == Some(&b'T')
            && chrono::DateTime::parse_from_rfc3339(s).is_ok()
        {
            return s.replace('T', " ").chars().take(16).collect();
        }
        s.to_string()
    }

    fn object(&self, entity: &str, key: &str, m: &Map<String, Value>, depth: usize) -> String {
        let lang = self.lang;
        if depth > 3 {
            return self.t("（略）", "(omitted)").to_string();
        }
        // A GeoJSON shape: say what it is, not its numbers.
        if let Some(Value::String(t)) = m.get("type")
            && (m.contains_key("coordinates")
                || m.contains_key("features")
                || m.contains_key("geometry"))
        {
            return match t.as_str() {
                "Point" => self.t("地点", "a point").to_string(),
                _ => self
                    .t("地图上划定的范围", "an area drawn on the map")
                    .to_string(),
            };
        }
        // A notice's targets: what was chosen (the villages it resolved to
        // repeat it), and the circle when one was drawn.
        if key == "targets"
            && let Some(Value::Object(req)) = m.get("request")
        {
            let mut out = self.object(entity, "request", req, depth + 1);
            if let Some(c) = m.get("circle").filter(|c| !blank(c)) {
                out.push_str(self.t("，", ", "));
                out.push_str(&field_label(lang, entity, "circle"));
                out.push_str(self.t("：", ": "));
                out.push_str(&self.value_inner(entity, "circle", c, depth + 1));
            }
            return out;
        }
        if key == "location" || key == "circle" {
            let lon = m.get("lon").and_then(Value::as_f64);
            let lat = m.get("lat").and_then(Value::as_f64);
            if let (Some(lon), Some(lat)) = (lon, lat) {
                let mut out = format!("{lon:.5}, {lat:.5}");
                if let Some(r) = m.get("radius_m").and_then(Value::as_f64) {
                    out.push_str(&match lang {
                        Lang::Zh => format!("，半径 {r} 米"),
                        Lang::En => format!(", radius {r} m"),
                    });
                }
                return out;
            }
        }
        let sub_entity = match key {
            "licence" => "licence",
            "findings" | "finding" => "finding",
            _ => entity,
        };
        let mut fields: Vec<(&String, &Value)> = m
            .iter()
            .filter(|(k, v)| {
                !HIDDEN.contains(&k.as_str()) && !blank(v) && !quiet(sub_entity, k, v, m)
            })
            .filter(|(k, _)| {
                !(sub_entity == "finding" && matches!(k.as_str(), "inspection_id" | "site_id"))
            })
            .collect();
        fields.sort_by_key(|(k, _)| field_rank(k));
        let parts: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "{}{}{}",
                    field_label(lang, sub_entity, k),
                    self.t("：", ": "),
                    self.value_inner(sub_entity, k, v, depth + 1)
                )
            })
            .collect();
        if parts.is_empty() {
            self.none()
        } else {
            parts.join(self.t("，", ", "))
        }
    }
}

/// Where a field stands in the table above: entries list fields in that
/// order (name first, bookkeeping last), unknown ones at the end.
fn field_rank(key: &str) -> usize {
    FIELDS
        .iter()
        .position(|(k, _, _)| *k == key)
        .unwrap_or(FIELDS.len())
}

/// A field a new record's entry need not show: its id (the record is named),
/// a flag that is off, a person named by the recipient beside it.
fn quiet(entity: &str, key: &str, v: &Value, all: &Map<String, Value>) -> bool {
    match key {
        "id" => true,
        "archived"
        | "sample"
        | "outside_villages"
        | "seasonal"
        | "township"
        | "out_of_season_stock" => v == &Value::Bool(false),
        "name" => entity == "alert" && all.contains_key("recipient_id"),
        // A person of the duty roster is named; their id says nothing more.
        "contact_id" => all.contains_key("name"),
        "available" => v == &Value::Bool(true),
        // A shift's times as entered say it; these repeat them.
        "starts_at" | "ends_at" | "overnight" | "kind" => entity == "duty_shift",
        // An inspection is named by its site already.
        "site_id" => entity == "inspection",
        // A notice's villages as resolved repeat those chosen.
        "villages" => all.contains_key("request"),
        _ => false,
    }
}

fn blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A status kept as a key, in words for its kind of record.
fn status_words(lang: Lang, entity: &str, s: &str) -> String {
    let w = match (entity, s) {
        ("finding", "open") => lang.t("待整改", "open"),
        ("finding", "rectified") => lang.t("已整改待销号", "rectified"),
        ("finding", "closed") => lang.t("已销号", "closed out"),
        ("incident", "open") => lang.t("响应中", "open"),
        ("incident", "closed") => lang.t("已结束", "closed"),
        ("incident", "pending") => lang.t("待带班领导确认", "awaiting a leader"),
        ("incident", "rejected") => lang.t("带班领导未同意", "rejected"),
        ("site", "active") => lang.t("在营", "operating"),
        ("site", "suspended") => lang.t("停业整顿", "suspended"),
        ("site", "closed") => lang.t("已关闭", "closed"),
        ("shelter", other) => {
            return crate::registry::shelters::ShelterStatus::parse(other).map_or_else(
                || other.to_string(),
                |st| lang.t(st.label_zh(), st.label_en()).to_string(),
            );
        }
        (_, "pending") => lang.t("待签发", "awaiting sign-off"),
        (_, "accepting") => lang.t("发送中", "sending"),
        (_, "active") => lang.t("生效中", "active"),
        (_, "closed") => lang.t("已结束", "closed"),
        (_, "rejected") => lang.t("已退回", "rejected"),
        (_, "open") => lang.t("进行中", "open"),
        (_, other) => return other.to_string(),
    };
    w.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words_of(v: Value) -> String {
        let names = Names::default();
        let w = Words {
            lang: Lang::Zh,
            names: &names,
            tz: chrono_tz::Asia::Shanghai,
        };
        w.changes("site", &None, &Some(v))
            .into_iter()
            .map(|c| match c {
                Change::Field(k, b, a) => format!("{k}:{b}->{a}"),
                Change::Value(k, v) => format!("{k}:{v}"),
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn no_json_reaches_the_page() {
        let out = words_of(json!({
            "name": "泉州某化工",
            "licence": {"number": "闽危化经 001", "expires_on": "2027-01-01"},
            "inventory": [{"chemical": "液氨", "max_quantity": 2.0, "unit": "t"}],
            "note": "{\"a\": 1}",
            "odd": {"nested": {"deeper": [1, 2, {"x": "y"}]}},
            "safety_officer_phone": "+8613800138000",
        }));
        assert!(!out.contains("{\""), "{out}");
        assert!(!out.contains('{'), "{out}");
        assert!(out.contains("安全负责人电话:138 0013 8000"), "{out}");
        assert!(out.contains("许可证编号：闽危化经 001"), "{out}");
        assert!(out.contains("化学品：液氨"), "{out}");
        assert!(out.contains("odd:"), "{out}");
    }

    #[test]
    fn actions_and_actors_in_words() {
        assert_eq!(action_key("修改"), "update");
        assert_eq!(action_key("升级叫应"), "escalate");
        assert_eq!(action_key("update"), "update");
        assert_eq!(actor_words(Lang::Zh, "web:demo"), "demo（网页）");
        assert_eq!(actor_words(Lang::Zh, "token:ops"), "接口令牌 ops");
        assert_eq!(
            actor_words(Lang::Zh, "system:escalation"),
            "系统自动（升级叫应）"
        );
        assert_eq!(
            actor_words(Lang::Zh, "sms:aliyun:+8613800138000"),
            "短信回复（138 0013 8000）"
        );
        assert_eq!(action_label(Lang::Zh, "close", "finding"), "复查销号");
        assert_eq!(
            action_label(Lang::Zh, "frobnicate_all", "x"),
            "frobnicate all"
        );
    }
}
