//! Notice templates: `{variable}` placeholders, `{{` and `}}` for literal
//! braces. Checked when the notice is accepted, so an unknown variable is a
//! 422 at request time rather than a broken SMS later.

/// Variables a notice may use, with what they become.
pub const VARIABLES: &[(&str, &str)] = &[
    ("name", "recipient's name"),
    (
        "village",
        "recipient's village (or 乡级 for township level)",
    ),
    ("level", "response level, e.g. Ⅲ级（黄色）"),
    (
        "level_en",
        "response level in English, e.g. Level III (yellow)",
    ),
    ("plan", "plan title, if the notice comes from a plan"),
    ("title", "the notice title"),
    (
        "deadline",
        "answer deadline in local time, e.g. 11月26日 21:30",
    ),
    ("link", "the recipient's answer link"),
    ("office", "the office name"),
];

/// The variables as the office writes them: 〔姓名〕 for `{name}`. One table,
/// read both ways ([`from_chinese`], [`to_chinese`]); `{level_en}` has no
/// Chinese form and stays as it is.
pub const CHINESE: &[(&str, &str)] = &[
    ("姓名", "name"),
    ("村", "village"),
    ("等级", "level"),
    ("预案", "plan"),
    ("标题", "title"),
    ("截止时间", "deadline"),
    ("链接", "link"),
    ("单位", "office"),
];

/// The Chinese forms, as listed in error messages and hints:
/// "〔姓名〕 〔村〕 …".
pub fn chinese_known() -> String {
    CHINESE
        .iter()
        .map(|(zh, _)| format!("〔{zh}〕"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A 〔…〕 that names no variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown 〔{0}〕; known: {known}", known = chinese_known())]
pub struct UnknownChinese(pub String);

/// Turns the Chinese forms into variables: "〔姓名〕您好" → "{name}您好".
/// A 〔…〕 holding only digits is text (a document number's year,
/// 闽应急〔2025〕3号; a licence's 〔2025〕); any other is an error naming
/// the known ones. An unclosed 〔 is text. Braces are left for [`check`].
pub fn from_chinese(t: &str) -> Result<String, UnknownChinese> {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find('〔') {
        out.push_str(&rest[..i]);
        let after = &rest[i + '〔'.len_utf8()..];
        let Some(end) = after.find('〕') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let word = inner.trim();
        if !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
            out.push('〔');
            out.push_str(inner);
            out.push('〕');
        } else {
            let Some((_, var)) = CHINESE.iter().find(|(zh, _)| *zh == word) else {
                return Err(UnknownChinese(word.to_string()));
            };
            out.push('{');
            out.push_str(var);
            out.push('}');
        }
        rest = &after[end + '〕'.len_utf8()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A checked template as the office reads and edits it: each variable in
/// its Chinese form, literal braces still doubled, so that
/// `from_chinese(&to_chinese(t)) == t`. A broken template is returned as is.
pub fn to_chinese(t: &str) -> String {
    let Ok(pieces) = parse(t) else {
        return t.to_string();
    };
    let mut s = String::with_capacity(t.len() + 16);
    for p in pieces {
        match p {
            Piece::Text(x) => s.push_str(x),
            Piece::Brace(c) => {
                s.push(c);
                s.push(c);
            }
            Piece::Var(v) => match CHINESE.iter().find(|(_, var)| *var == v) {
                Some((zh, _)) => {
                    s.push('〔');
                    s.push_str(zh);
                    s.push('〕');
                }
                None => {
                    s.push('{');
                    s.push_str(v);
                    s.push('}');
                }
            },
        }
    }
    s
}

/// The variables a checked template uses, each once in order of first use,
/// in their Chinese forms ("〔姓名〕"; `{level_en}` as written).
pub fn chinese_variables(t: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in check(t).unwrap_or_default() {
        let shown = CHINESE
            .iter()
            .find(|(_, var)| *var == v)
            .map_or_else(|| format!("{{{v}}}"), |(zh, _)| format!("〔{zh}〕"));
        if !out.contains(&shown) {
            out.push(shown);
        }
    }
    out
}

/// Variables that differ per recipient: a text for the public cannot use them.
pub const RECIPIENT_VARIABLES: &[&str] = &["name", "village", "deadline", "link"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown variable {{{0}}}; known: {known}", known = known())]
    Unknown(String),
    #[error("unclosed '{{' at character {0}; write '{{{{' for a literal brace")]
    Unclosed(usize),
    #[error("stray '}}' at character {0}; write '}}}}' for a literal brace")]
    Stray(usize),
}

fn known() -> String {
    VARIABLES
        .iter()
        .map(|(k, _)| format!("{{{k}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Var(&'a str),
}

fn parse(t: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = t;
    let mut pos = 0usize;
    while let Some(i) = rest.find(['{', '}']) {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let at = pos + rest[..i].chars().count();
        let c = rest.as_bytes()[i];
        let after = &rest[i + 1..];
        if c == b'{' {
            if let Some(a) = after.strip_prefix('{') {
                out.push(Piece::Brace('{'));
                pos = at + 2;
                rest = a;
                continue;
            }
            let end = after.find('}').ok_or(TemplateError::Unclosed(at))?;
            let name = after[..end].trim();
            if !VARIABLES.iter().any(|(k, _)| *k == name) {
                return Err(TemplateError::Unknown(name.to_string()));
            }
            out.push(Piece::Var(name));
            pos = at + 2 + after[..end].chars().count();
            rest = &after[end + 1..];
        } else {
            if let Some(a) = after.strip_prefix('}') {
                out.push(Piece::Brace('}'));
                pos = at + 2;
                rest = a;
                continue;
            }
            return Err(TemplateError::Stray(at));
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks a template; returns the variables it uses.
pub fn check(t: &str) -> Result<Vec<String>, TemplateError> {
    Ok(parse(t)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v.to_string()),
            _ => None,
        })
        .collect())
}

/// Fills a template; `value` gives each variable's text.
pub fn render(t: &str, value: impl Fn(&str) -> String) -> Result<String, TemplateError> {
    let mut s = String::with_capacity(t.len() + 64);
    for p in parse(t)? {
        match p {
            Piece::Text(x) => s.push_str(x),
            Piece::Brace(c) => s.push(c),
            Piece::Var(v) => s.push_str(&value(v)),
        }
    }
    Ok(s)
}

/// Fills the variables `value` knows and keeps the others (and literal
/// braces) as template text: the result is still a template, with only
/// what differs per recipient left to fill.
pub fn prefill(t: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let mut s = String::with_capacity(t.len() + 64);
    for p in parse(t)? {
        match p {
            Piece::Text(x) => s.push_str(x),
            Piece::Brace(c) => {
                s.push(c);
                s.push(c);
            }
            Piece::Var(v) => match value(v) {
                Some(x) => s.push_str(&x.replace('{', "{{").replace('}', "}}")),
                None => {
                    s.push('{');
                    s.push_str(v);
                    s.push('}');
                }
            },
        }
    }
    Ok(s)
}

/// A stored text as the office reads it on a screen: what differs per
/// recipient shown as a placeholder in words.
pub fn display(t: &str) -> String {
    render(t, |v| {
        match v {
            "name" => "〈姓名〉",
            "village" => "〈村名〉",
            "deadline" => "〈确认时限〉",
            "link" => "〈确认链接〉",
            "level" => "",
            _ => "",
        }
        .to_string()
    })
    .unwrap_or_else(|_| t.to_string())
}

/// The level as shown to people: Ⅳ级（蓝色） … Ⅰ级（红色）.
pub fn level_zh(level: Option<i64>) -> &'static str {
    match level {
        Some(1) => "Ⅰ级（红色）",
        Some(2) => "Ⅱ级（橙色）",
        Some(3) => "Ⅲ级（黄色）",
        Some(4) => "Ⅳ级（蓝色）",
        _ => "通知",
    }
}

pub fn level_en(level: Option<i64>) -> &'static str {
    match level {
        Some(1) => "Level I (red)",
        Some(2) => "Level II (orange)",
        Some(3) => "Level III (yellow)",
        Some(4) => "Level IV (blue)",
        _ => "Notice",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefill_keeps_what_differs_per_recipient() {
        let t = "{name}：{plan}{level}，{{示例}} {link}";
        let out = prefill(t, |v| match v {
            "plan" => Some("防汛{预案}".into()),
            "level" => Some("Ⅳ级（蓝色）".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(out, "{name}：防汛{{预案}}Ⅳ级（蓝色），{{示例}} {link}");
        assert_eq!(check(&out).unwrap(), vec!["name", "link"]);
        assert_eq!(
            display(&out),
            "〈姓名〉：防汛{预案}Ⅳ级（蓝色），{示例} 〈确认链接〉"
        );
    }

    #[test]
    fn renders_and_checks() {
        let t = "{village}请注意：{level}预警，{{示例}} 点击{link}";
        assert_eq!(check(t).unwrap(), vec!["village", "level", "link"]);
        let out = render(t, |v| format!("<{v}>")).unwrap();
        assert_eq!(out, "<village>请注意：<level>预警，{示例} 点击<link>");
    }

    #[test]
    fn rejects_unknown_and_broken() {
        assert_eq!(
            check("请{villag}注意"),
            Err(TemplateError::Unknown("villag".into()))
        );
        assert_eq!(check("请{village"), Err(TemplateError::Unclosed(1)));
        assert_eq!(check("a}b"), Err(TemplateError::Stray(1)));
    }

    fn angle(v: &str) -> String {
        format!("<{v}>")
    }

    #[test]
    fn text_after_the_last_placeholder_is_sent() {
        assert_eq!(
            render("请{name}立即转移到安置点", angle).unwrap(),
            "请<name>立即转移到安置点"
        );
        assert_eq!(render("{name}你好", angle).unwrap(), "<name>你好");
        assert_eq!(render("{{是}}", angle).unwrap(), "{是}");
    }

    #[test]
    fn text_before_and_between_placeholders_is_sent() {
        assert_eq!(
            render("{village}{name}：{level}", angle).unwrap(),
            "<village><name>：<level>"
        );
        assert_eq!(render("无变量的通知", angle).unwrap(), "无变量的通知");
        assert_eq!(render("", angle).unwrap(), "");
        assert_eq!(check("无变量的通知").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn spaces_inside_a_placeholder_are_ignored() {
        assert_eq!(check("{ name }").unwrap(), vec!["name"]);
        assert_eq!(render("您好，{ name }", angle).unwrap(), "您好，<name>");
    }

    #[test]
    fn each_variable_gets_its_own_value() {
        let t = "{office}：{title}，{plan}，{deadline}前回复 {link} {level_en}";
        assert_eq!(
            check(t).unwrap(),
            vec!["office", "title", "plan", "deadline", "link", "level_en"]
        );
        let value = |v: &str| match v {
            "office" => "湖上乡应急办".to_string(),
            "title" => "防汛".to_string(),
            _ => v.to_uppercase(),
        };
        assert_eq!(
            render(t, value).unwrap(),
            "湖上乡应急办：防汛，PLAN，DEADLINE前回复 LINK LEVEL_EN"
        );
    }

    #[test]
    fn error_positions_count_characters_after_braces_and_placeholders() {
        // 洪水 {{ 预警 }} 请 = 9 characters before the unclosed brace.
        assert_eq!(
            check("洪水{{预警}}请{village"),
            Err(TemplateError::Unclosed(9))
        );
        // {name} is 6 characters, 好 one more.
        assert_eq!(check("{name}好}"), Err(TemplateError::Stray(7)));
        assert_eq!(check("转移{ name }到}"), Err(TemplateError::Stray(11)));
        assert_eq!(check("{{{{}"), Err(TemplateError::Stray(4)));
        assert_eq!(check("}}}}{"), Err(TemplateError::Unclosed(4)));
        assert_eq!(check("{"), Err(TemplateError::Unclosed(0)));
        assert_eq!(check("}"), Err(TemplateError::Stray(0)));
    }

    #[test]
    fn unknown_variables_are_named_with_the_known_ones() {
        let e = check("请{ 名字 }注意").unwrap_err();
        assert_eq!(e, TemplateError::Unknown("名字".into()));
        assert_eq!(
            e.to_string(),
            "unknown variable {名字}; known: {name} {village} {level} {level_en} {plan} \
             {title} {deadline} {link} {office}"
        );
        assert_eq!(
            check("{village}{}").unwrap_err(),
            TemplateError::Unknown(String::new())
        );
    }

    #[test]
    fn brace_errors_explain_how_to_write_a_literal_brace() {
        assert_eq!(
            TemplateError::Unclosed(3).to_string(),
            "unclosed '{' at character 3; write '{{' for a literal brace"
        );
        assert_eq!(
            TemplateError::Stray(5).to_string(),
            "stray '}' at character 5; write '}}' for a literal brace"
        );
    }

    #[test]
    fn levels_are_named_with_their_colour() {
        for (level, zh, en) in [
            (Some(1), "Ⅰ级（红色）", "Level I (red)"),
            (Some(2), "Ⅱ级（橙色）", "Level II (orange)"),
            (Some(3), "Ⅲ级（黄色）", "Level III (yellow)"),
            (Some(4), "Ⅳ级（蓝色）", "Level IV (blue)"),
            (None, "通知", "Notice"),
            (Some(0), "通知", "Notice"),
            (Some(5), "通知", "Notice"),
        ] {
            assert_eq!(level_zh(level), zh, "{level:?}");
            assert_eq!(level_en(level), en, "{level:?}");
        }
    }

    #[test]
    fn chinese_forms_convert_both_ways() {
        let office = "〔姓名〕您好：〔村〕请按〔预案〕落实〔等级〕响应，〔截止时间〕前点〔链接〕回复。〔单位〕 {{注}}";
        let t = from_chinese(office).unwrap();
        assert_eq!(
            t,
            "{name}您好：{village}请按{plan}落实{level}响应，{deadline}前点{link}回复。{office} {{注}}"
        );
        assert_eq!(to_chinese(&t), office);
        assert_eq!(
            chinese_variables("{name}{name}{title}{level_en}"),
            vec!["〔姓名〕", "〔标题〕", "{level_en}"]
        );
        // Both forms mixed; a document number's year and an unclosed 〔 are text.
        assert_eq!(
            from_chinese("{name}、〔 姓名 〕见闽应急〔2025〕3号〔").unwrap(),
            "{name}、{name}见闽应急〔2025〕3号〔"
        );
    }

    #[test]
    fn unknown_chinese_forms_are_named_with_the_known_ones() {
        let e = from_chinese("请〔名字〕注意").unwrap_err();
        assert_eq!(e, UnknownChinese("名字".into()));
        assert_eq!(
            e.to_string(),
            "unknown 〔名字〕; known: 〔姓名〕 〔村〕 〔等级〕 〔预案〕 〔标题〕 〔截止时间〕 〔链接〕 〔单位〕"
        );
        assert_eq!(from_chinese("〔〕"), Err(UnknownChinese(String::new())));
    }
}
