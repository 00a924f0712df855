//! Chinese first, English on request. Text sits next to its translation at
//! the place it is shown (`lang.t("中文", "English")`), so nothing visible
//! can lack one of the two.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" | "cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// A notice channel's name as pages show it.
pub fn channel_words(lang: Lang, ch: crate::notify::Channel) -> &'static str {
    match ch {
        crate::notify::Channel::Sms => lang.t("短信", "SMS"),
        crate::notify::Channel::Email => lang.t("邮件", "e-mail"),
        crate::notify::Channel::Voice => lang.t("语音电话", "voice call"),
    }
}

/// The domain modules write their validation messages in English (they are
/// also the API's). In Chinese, the common ones are translated; anything else
/// is shown as written rather than hidden.
pub fn message(lang: Lang, msg: &str) -> String {
    if lang == Lang::En {
        return msg.to_string();
    }
    let m = msg.trim();
    let fixed: &[(&str, &str)] = &[
        ("must not be empty", "不能为空"),
        ("must be after licence.issued_on", "必须晚于发证日期"),
        ("must be a number of at least 0", "必须是不小于 0 的数"),
        (
            "longitude must be between -180 and 180",
            "经度必须在 -180 到 180 之间",
        ),
        (
            "latitude must be between -90 and 90",
            "纬度必须在 -90 到 90 之间",
        ),
        (
            "must be four digits, e.g. UN1203",
            "必须是四位数字，如 UN1203",
        ),
        ("is not a number", "不是数字"),
        (
            "choose at least one village, role, contact or area",
            "请至少选择一个村、角色、联系人或区域",
        ),
        (
            "the targets match no active contact",
            "所选目标没有在用的联系人",
        ),
        (
            "choose at least one channel: sms, email or voice",
            "请至少选择一个渠道：短信、邮件或语音电话",
        ),
        (
            "voice calls are switched off in the configuration (voice.provider)",
            "配置中未启用语音电话（voice.provider）",
        ),
        (
            "no recipient has an address on the chosen channels",
            "所选渠道上没有收件人地址",
        ),
        ("may not contain spaces", "不能包含空格"),
        ("must be 1 to 64 characters", "必须为 1 到 64 个字符"),
        ("is required", "必填"),
        ("choose a kind", "请选择类别"),
        ("choose a risk grade", "请选择风险等级"),
        ("choose a status", "请选择状态"),
        ("choose a role", "请选择角色"),
        ("choose a category", "请选择分类"),
        ("choose a disposition", "请选择处理方式"),
        ("choose who handed over", "请选择交班人"),
        ("choose who took over", "请选择接班人"),
        ("choose one of the list", "请从列表中选择"),
        (
            "choose 企业微信, 钉钉 or 飞书",
            "请选择企业微信、钉钉或飞书",
        ),
        (
            "enter both longitude and latitude, or neither",
            "经度和纬度请同时填写，或都不填",
        ),
        ("is not a village", "不是可选的村"),
        ("is not GeoJSON", "不是 GeoJSON"),
        (
            "near_lon, near_lat and radius_m go together",
            "经度、纬度和半径须一起填写",
        ),
        (
            "is required: you may keep only your village's sites",
            "必填：您只能登记本村的场所",
        ),
    ];
    for (en, zh) in fixed {
        if m == *en {
            return (*zh).to_string();
        }
    }
    if let Some(n) = m
        .strip_prefix("must be at most ")
        .and_then(|r| r.strip_suffix(" characters"))
    {
        return format!("最多 {n} 个字符");
    }
    if let Some(n) = m
        .strip_prefix("must be at least ")
        .and_then(|r| r.strip_suffix(" characters"))
    {
        return format!("至少 {n} 个字符");
    }
    // A value the office typed, quoted, then what it is not.
    let not_a: &[(&str, &str)] = &[
        (" is not a whole number", "不是整数"),
        (" is not a number", "不是数字"),
        (" is not a village", "不是可选的村"),
        (" is not a date and time", "不是日期和时间"),
    ];
    for (en, zh) in not_a {
        if let Some(v) = m.strip_suffix(en) {
            return format!("{v} {zh}");
        }
    }
    let unknown: &[(&str, &str)] = &[
        ("unknown kind ", "未知类别 "),
        ("unknown risk grade ", "未知风险等级 "),
        ("unknown status ", "未知状态 "),
    ];
    for (en, zh) in unknown {
        if let Some(v) = m.strip_prefix(en) {
            return format!("{zh}{v}");
        }
    }
    if let Some((a, b)) = m
        .strip_prefix("must be between ")
        .and_then(|r| r.split_once(" and "))
    {
        return format!("必须在 {a} 到 {b} 之间");
    }
    if let Some(v) = m.strip_suffix(" is not a date written YYYY-MM-DD") {
        return format!("{v} 不是 YYYY-MM-DD 格式的日期");
    }
    if let Some(v) = m.strip_suffix(" is not a valid 18-character unified social credit code") {
        return format!("{v} 不是有效的 18 位统一社会信用代码");
    }
    if let Some(v) = m.strip_suffix(" is not a valid CAS number (check digit)") {
        return format!("{v} 不是有效的 CAS 号（校验位不符）");
    }
    if let Some(v) = m.strip_suffix(" is not an e-mail address") {
        return format!("{v} 不是电子邮件地址");
    }
    if let Some(v) = m.strip_prefix("no village with id ") {
        return format!("没有编号为 {v} 的村");
    }
    if m.contains("is not a phone number") {
        let v = m.split(" is not").next().unwrap_or("");
        return format!("{v} 不是电话号码（例如 138 0013 8000 或 +8613800138000）");
    }
    if let Some((word, known)) = m
        .strip_prefix("unknown 〔")
        .and_then(|r| r.split_once("〕; known: "))
    {
        return format!("未知变量〔{word}〕；可用：{known}");
    }
    if m.starts_with("unknown role") {
        return format!("未知角色（{m}）");
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_common_messages() {
        assert_eq!(message(Lang::Zh, "must not be empty"), "不能为空");
        assert_eq!(
            message(Lang::Zh, "must be at most 128 characters"),
            "最多 128 个字符"
        );
        assert_eq!(
            message(Lang::Zh, "'x' is not a date written YYYY-MM-DD"),
            "'x' 不是 YYYY-MM-DD 格式的日期"
        );
        assert_eq!(message(Lang::Zh, "choose a kind"), "请选择类别");
        assert_eq!(
            message(Lang::Zh, "'x1' is not a whole number"),
            "'x1' 不是整数"
        );
        assert_eq!(
            message(Lang::Zh, "must be between 1 and 500"),
            "必须在 1 到 500 之间"
        );
        assert_eq!(message(Lang::Zh, "unknown kind 'mine'"), "未知类别 'mine'");
        assert_eq!(message(Lang::En, "choose a kind"), "choose a kind");
        assert_eq!(message(Lang::En, "must not be empty"), "must not be empty");
        assert_eq!(message(Lang::Zh, "something new"), "something new");
    }
}
