//! What a call reads out (叫应 by voice): the notice as it is spoken, not as it is printed.
//! A text-to-speech engine reads "Ⅲ级" as a symbol, "17:30" as "十七比三十", "200mm" letter by
//! letter and a phone number as one huge number, and Aliyun refuses links and template
//! variables of 250 characters or more. So the text is rewritten: levels as words (三级),
//! times, dates, amounts and units as they are said (十七点三十分, 二百毫米), phone numbers
//! digit by digit (幺三八…), links dropped; it is cut at a sentence when too long (and says
//! so), and always ends with what to do: “收到请按1”.

/// The providers' limit on the filled template variables: under 250 characters (Aliyun).
pub const MAX_CHARS: usize = 249;

/// Said when the notice was cut to fit.
const CUT_NOTE: &str = "内容较长，其余请看短信。";

/// A notice's parts, already filled in for the person called (see `Renderer::voice`).
#[derive(Debug, Clone, Default)]
pub struct Parts<'a> {
    /// The office calling (湖上乡应急办).
    pub office: &'a str,
    pub exercise: bool,
    /// `notice`, `repeat` or `escalation`.
    pub purpose: &'a str,
    /// `Alert`, `Update` or `Cancel` (an all-clear asks for no answer).
    pub msg_type: &'a str,
    /// 1 = Ⅰ … 4 = Ⅳ.
    pub level: Option<i64>,
    pub title: &'a str,
    pub body: &'a str,
    /// For an escalation: who has not answered (their names and numbers), and where.
    pub escalation: Option<String>,
    /// Answer by this local time (hour, minute).
    pub deadline: Option<(u32, u32)>,
    /// The call can take a key press (IVR, `<Gather>`): “收到请按1”; otherwise the person is
    /// asked to reply to the SMS.
    pub asks_key: bool,
}

/// The spoken text and whether the notice had to be cut to fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spoken {
    pub text: String,
    pub cut: bool,
}

/// The whole spoken text of a call, at most [`MAX_CHARS`] characters.
pub fn speak(p: &Parts) -> Spoken {
    let asks_answer = p.msg_type != "Cancel" && p.msg_type != "Ack";
    let mut head = String::new();
    head.push_str(p.office.trim());
    head.push_str(match (p.exercise, p.purpose) {
        (true, _) => "演练通知：",
        (false, "repeat") => "再次提醒：",
        (false, "escalation") => "催办：",
        _ => "通知：",
    });
    if let Some(who) = &p.escalation {
        head.push_str(&sentence(&words(who)));
    }
    match p.msg_type {
        "Update" => head.push_str("更新。"),
        "Cancel" if !p.title.contains("解除") => head.push_str("解除。"),
        _ => {}
    }
    let title = words(p.title);
    if let Some(level) = p.level.and_then(level_words)
        && !title.contains(level.0)
    {
        head.push_str(&format!("{}，{}。", level.0, level.1));
    }
    head.push_str(&sentence(&title));
    let mut tail = String::new();
    if asks_answer {
        if let Some((h, m)) = p.deadline {
            tail.push_str(&format!("请在{}前确认。", clock(h, m)));
        }
        tail.push_str(if p.asks_key {
            "收到请按1。"
        } else {
            "收到请回复短信1。"
        });
    } else {
        tail.push_str("本通知无需回复。");
    }
    let body = sentence(&words(p.body));
    let whole = format!("{head}{body}{tail}");
    if count(&whole) <= MAX_CHARS {
        return Spoken {
            text: whole,
            cut: false,
        };
    }
    // Too long: the head and the closing stay whole; the body keeps what fits, up to a
    // sentence, and the cut is said.
    let room = MAX_CHARS.saturating_sub(count(&head) + count(&tail) + count(CUT_NOTE));
    let kept = cut_at_sentence(&format!("{head}{body}"), count(&head) + room);
    let mut text = format!("{kept}{CUT_NOTE}{tail}");
    if count(&text) > MAX_CHARS {
        // A head that alone is too long (an escalation naming many people): cut anywhere.
        let keep = MAX_CHARS.saturating_sub(count(CUT_NOTE) + count(&tail));
        text = format!("{}{CUT_NOTE}{tail}", take(&kept, keep));
    }
    Spoken { text, cut: true }
}

/// A level as said: ("三级", "黄色").
pub fn level_words(level: i64) -> Option<(&'static str, &'static str)> {
    match level {
        1 => Some(("一级", "红色")),
        2 => Some(("二级", "橙色")),
        3 => Some(("三级", "黄色")),
        4 => Some(("四级", "蓝色")),
        _ => None,
    }
}

fn count(s: &str) -> usize {
    s.chars().count()
}

fn take(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Ends a non-empty text with a full stop when it has no closing punctuation.
fn sentence(s: &str) -> String {
    let s = s.trim();
    match s.chars().last() {
        None => String::new(),
        Some('。' | '！' | '？' | '；' | '.' | '!' | '?') => s.to_string(),
        Some('，' | '、' | ',' | '：' | ':' | ';') => {
            let mut t: String = s.chars().take(count(s) - 1).collect();
            t.push('。');
            t
        }
        Some(_) => format!("{s}。"),
    }
}

/// The longest prefix of `s` of at most `max` characters that ends a sentence; failing
/// that, one that ends a clause; failing that, `max` characters.
fn cut_at_sentence(s: &str, max: usize) -> String {
    let prefix: Vec<char> = s.chars().take(max).collect();
    let end_of = |marks: &[char]| prefix.iter().rposition(|c| marks.contains(c));
    match end_of(&['。', '！', '？', '；', '!', '?', ';']) {
        Some(i) => prefix[..=i].iter().collect(),
        None => match end_of(&['，', '、', ',']) {
            Some(i) => {
                let mut t: String = prefix[..i].iter().collect();
                t.push('。');
                t
            }
            None => prefix.iter().collect(),
        },
    }
}

/// "十七点三十分", "八点整", "九点零五分".
pub fn clock(hour: u32, minute: u32) -> String {
    let m = match minute {
        0 => "整".to_string(),
        1..=9 => format!("零{}分", DIGITS[minute as usize]),
        _ => format!("{}分", number(u64::from(minute))),
    };
    format!("{}点{m}", number(u64::from(hour)))
}

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// A whole number as said: 十五, 二百, 一千零五, 三万零二百.
pub fn number(n: u64) -> String {
    if n == 0 {
        return "零".into();
    }
    if n >= 1_0000_0000_0000 {
        return spell(&n.to_string(), false);
    }
    let groups = [
        (n / 1_0000_0000, "亿"),
        ((n / 1_0000) % 1_0000, "万"),
        (n % 1_0000, ""),
    ];
    let mut out = String::new();
    let mut zero_pending = false;
    for (g, unit) in groups {
        if g == 0 {
            if !out.is_empty() {
                zero_pending = true;
            }
            continue;
        }
        if !out.is_empty() && (zero_pending || g < 1000) {
            out.push('零');
        }
        out.push_str(&group_words(g, out.is_empty()));
        out.push_str(unit);
        zero_pending = false;
    }
    out
}

/// 1–9999; `leading`: the first group, where 10–19 is said 十…, not 一十….
fn group_words(g: u64, leading: bool) -> String {
    let d = [g / 1000, (g / 100) % 10, (g / 10) % 10, g % 10];
    let units = ["千", "百", "十", ""];
    let mut out = String::new();
    let mut zero = false;
    for (i, &v) in d.iter().enumerate() {
        if v == 0 {
            if !out.is_empty() {
                zero = true;
            }
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        if !(i == 2 && v == 1 && out.is_empty() && leading) {
            out.push(DIGITS[v as usize]);
        }
        out.push_str(units[i]);
    }
    out
}

/// Digit by digit; a phone number says 1 as 幺, as Chinese operators and people do.
fn spell(digits: &str, phone: bool) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| {
            if phone && d == 1 {
                '幺'
            } else {
                DIGITS[d as usize]
            }
        })
        .collect()
}

/// Units after an amount, longest first, as said.
const UNITS: [(&str, &str); 14] = [
    ("km/h", "公里每小时"),
    ("m/s", "米每秒"),
    ("mm", "毫米"),
    ("cm", "厘米"),
    ("km", "公里"),
    ("kg", "千克"),
    ("℃", "摄氏度"),
    ("°C", "摄氏度"),
    ("min", "分钟"),
    ("m³", "立方米"),
    ("m²", "平方米"),
    ("m", "米"),
    ("h", "小时"),
    ("t", "吨"),
];

/// After these an amount is a quantity (五万人, 三百户), said as a number even when long;
/// a long run of digits followed by none of them is a code or a number to dial.
const MEASURES: &str =
    "人户个元万亿千百名位处座辆台次天日月号时点分秒年岁米吨斤亩间家村组条所艘架只头方级度倍毫厘公";

/// The text with what a TTS engine misreads rewritten as it is said.
pub fn words(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(half_width).collect();
    let n = chars.len();
    let mut out = String::with_capacity(text.len() * 2);
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if let Some(end) = url_at(&chars, i) {
            i = end;
            continue;
        }
        if c.is_ascii_digit() {
            i = digits_at(&chars, i, &mut out);
            continue;
        }
        if let Some(v) = roman_char(c) {
            out.push_str(&number(v));
            i += 1;
            continue;
        }
        // IV级, III级: ASCII roman numerals before 级.
        if matches!(c, 'I' | 'V') && (i == 0 || !chars[i - 1].is_ascii_alphabetic()) {
            let end = (i..n)
                .find(|&j| !matches!(chars[j], 'I' | 'V'))
                .unwrap_or(n);
            if chars.get(end) == Some(&'级')
                && let Some(v) = ascii_roman(&chars[i..end].iter().collect::<String>())
            {
                out.push_str(&number(v));
                i = end;
                continue;
            }
        }
        // Brackets of a printed headline ([演练]) are not read out.
        if !matches!(c, '[' | ']' | '【' | '】') {
            out.push(c);
        }
        i += 1;
    }
    // Removed links leave doubled spaces or an empty colon behind.
    let mut tidy = String::with_capacity(out.len());
    for c in out.chars() {
        if c == ' ' && (tidy.ends_with(' ') || tidy.is_empty()) {
            continue;
        }
        tidy.push(c);
    }
    tidy.trim().replace(" 。", "。").replace("：。", "。")
}

fn half_width(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        '％' => '%',
        '．' => '.',
        '～' => '~',
        _ => c,
    }
}

/// Where a link starting at `i` ends (http://…, https://…, www.…).
fn url_at(chars: &[char], i: usize) -> Option<usize> {
    let rest = |p: &str| {
        p.chars().enumerate().all(|(k, pc)| {
            chars
                .get(i + k)
                .is_some_and(|c| c.eq_ignore_ascii_case(&pc))
        })
    };
    if !(rest("http://") || rest("https://") || rest("www.")) {
        return None;
    }
    let end = (i..chars.len())
        .find(|&j| !chars[j].is_ascii_graphic() || matches!(chars[j], ')' | ']' | '>'))
        .unwrap_or(chars.len());
    Some(end)
}

fn roman_char(c: char) -> Option<u64> {
    let v = match c {
        'Ⅰ' | 'ⅰ' => 1,
        'Ⅱ' | 'ⅱ' => 2,
        'Ⅲ' | 'ⅲ' => 3,
        'Ⅳ' | 'ⅳ' => 4,
        'Ⅴ' | 'ⅴ' => 5,
        'Ⅵ' | 'ⅵ' => 6,
        'Ⅶ' | 'ⅶ' => 7,
        'Ⅷ' | 'ⅷ' => 8,
        'Ⅸ' | 'ⅸ' => 9,
        'Ⅹ' | 'ⅹ' => 10,
        _ => return None,
    };
    Some(v)
}

fn ascii_roman(s: &str) -> Option<u64> {
    match s {
        "I" => Some(1),
        "II" => Some(2),
        "III" => Some(3),
        "IV" => Some(4),
        "V" => Some(5),
        _ => None,
    }
}

/// Reads the amount, time, date part, phone number or code starting at `i` into `out`;
/// returns where it ends.
fn digits_at(chars: &[char], i: usize, out: &mut String) -> usize {
    let n = chars.len();
    let digit = |j: usize| chars.get(j).is_some_and(char::is_ascii_digit);
    let run_end = |from: usize| (from..n).find(|&j| !digit(j)).unwrap_or(n);
    // A phone number: 7 or more digits, in groups split by single spaces or hyphens.
    let mut j = i;
    let mut dialled = String::new();
    loop {
        let end = run_end(j);
        dialled.extend(&chars[j..end]);
        if matches!(chars.get(end), Some(' ' | '-')) && digit(end + 1) {
            j = end + 1;
        } else {
            j = end;
            break;
        }
    }
    let grouped = dialled.len() != run_end(i) - i;
    if dialled.len() >= 7 && (grouped || !after_is_measure(chars, j)) && chars.get(j) != Some(&'年')
    {
        out.push_str(&spell(&dialled, true));
        return j;
    }
    let end = run_end(i);
    let int: String = chars[i..end].iter().collect();
    // 17:30 (also 17：30).
    if end - i <= 2
        && matches!(chars.get(end), Some(':' | '：'))
        && digit(end + 1)
        && digit(end + 2)
        && !digit(end + 3)
    {
        let h: u32 = int.parse().unwrap_or(0);
        let m: u32 = chars[end + 1..end + 3]
            .iter()
            .collect::<String>()
            .parse()
            .unwrap_or(0);
        if h < 24 && m < 60 {
            out.push_str(&clock(h, m));
            return end + 3;
        }
    }
    // 2026年: a year is said digit by digit.
    if end - i == 4 && chars.get(end) == Some(&'年') {
        out.push_str(&spell(&int, false));
        return end;
    }
    // A decimal.
    let (mut said, mut k) = match (chars.get(end), digit(end + 1)) {
        (Some('.'), true) => {
            let frac_end = run_end(end + 1);
            let frac: String = chars[end + 1..frac_end].iter().collect();
            (
                format!("{}点{}", whole(&int), spell(&frac, false)),
                frac_end,
            )
        }
        _ => {
            let as_code = int.len() > 1 && int.starts_with('0')
                || int.len() >= 5 && !after_is_measure(chars, end);
            let s = if as_code {
                spell(&int, false)
            } else {
                whole(&int)
            };
            (s, end)
        }
    };
    // 80% → 百分之八十.
    if chars.get(k) == Some(&'%') {
        out.push_str(&format!("百分之{said}"));
        return k + 1;
    }
    // A unit, after an optional space; only where no letter follows (so "5 minutes" stays).
    let at = if chars.get(k) == Some(&' ') { k + 1 } else { k };
    for (unit, spoken) in UNITS {
        let len = unit.chars().count();
        let matches = unit
            .chars()
            .enumerate()
            .all(|(o, uc)| chars.get(at + o) == Some(&uc));
        let next_letter = chars.get(at + len).is_some_and(char::is_ascii_alphabetic);
        if matches && !next_letter {
            said.push_str(spoken);
            k = at + len;
            break;
        }
    }
    // 3-5, 50~100: a range.
    if matches!(chars.get(k), Some('-' | '~' | '—' | '至')) && digit(k + 1) {
        said.push('到');
        k += 1;
    }
    out.push_str(&said);
    k
}

fn whole(int: &str) -> String {
    match int.parse::<u64>() {
        Ok(v) => number(v),
        Err(_) => spell(int, false),
    }
}

fn after_is_measure(chars: &[char], j: usize) -> bool {
    let at = if chars.get(j) == Some(&' ') { j + 1 } else { j };
    chars.get(at).is_some_and(|c| MEASURES.contains(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_said_as_numbers() {
        let cases = [
            (0, "零"),
            (7, "七"),
            (10, "十"),
            (15, "十五"),
            (20, "二十"),
            (105, "一百零五"),
            (110, "一百一十"),
            (200, "二百"),
            (1005, "一千零五"),
            (1050, "一千零五十"),
            (10_000, "一万"),
            (10_010, "一万零一十"),
            (30_200, "三万零二百"),
            (120_000, "十二万"),
            (100_000_001, "一亿零一"),
        ];
        for (n, want) in cases {
            assert_eq!(number(n), want, "{n}");
        }
    }

    #[test]
    fn times_levels_amounts_and_units() {
        for (printed, said) in [
            ("17:30前到位", "十七点三十分前到位"),
            ("08:00", "八点整"),
            ("9：05集合", "九点零五分集合"),
            ("Ⅲ级响应", "三级响应"),
            ("启动Ⅰ级应急响应", "启动一级应急响应"),
            ("IV级（蓝色）", "四级（蓝色）"),
            ("III级", "三级"),
            ("过程雨量200mm", "过程雨量二百毫米"),
            ("降雨50 mm以上", "降雨五十毫米以上"),
            ("3h内", "三小时内"),
            ("风速25m/s", "风速二十五米每秒"),
            ("气温38℃", "气温三十八摄氏度"),
            ("湿度80%", "湿度百分之八十"),
            ("水位12.5米", "水位十二点五米"),
            ("2026年7月3日", "二零二六年七月三日"),
            ("转移1200人", "转移一千二百人"),
            ("50-100毫米", "五十到一百毫米"),
            ("８级大风", "八级大风"),
        ] {
            assert_eq!(words(printed), said, "{printed}");
        }
    }

    #[test]
    fn phone_numbers_digit_by_digit_and_no_links() {
        assert_eq!(
            words("请联系张三 138 0013 8000"),
            "请联系张三 幺三八零零幺三八零零零"
        );
        assert_eq!(
            words("值班电话0595-23281234"),
            "值班电话零五九五二三二八幺二三四"
        );
        assert_eq!(words("13959512468"), "幺三九五九五幺二四六八");
        assert_eq!(words("拨打12379查询"), "拨打一二三七九查询");
        assert_eq!(
            words("详见 https://yj.example.gov.cn/a/abc?x=1 。"),
            "详见。"
        );
        assert_eq!(words("见www.example.com，速回"), "见，速回");
        let said = words("点击http://10.0.0.1/a/T0k3n确认");
        assert!(!said.contains("http") && !said.contains('/'), "{said}");
    }

    #[test]
    fn the_notice_as_spoken() {
        let p = Parts {
            office: "湖上乡应急办",
            purpose: "notice",
            msg_type: "Alert",
            level: Some(3),
            title: "暴雨黄色预警",
            body: "预计17:30前降雨量达200mm，请立即组织转移，联系电话0595-23281234。详见http://x.example/a/1",
            deadline: Some((18, 0)),
            asks_key: true,
            ..Parts::default()
        };
        let s = speak(&p);
        assert!(!s.cut);
        assert_eq!(
            s.text,
            "湖上乡应急办通知：三级，黄色。暴雨黄色预警。预计十七点三十分前降雨量达二百毫米，\
             请立即组织转移，联系电话零五九五二三二八幺二三四。详见。请在十八点整前确认。收到请按1。"
        );
        for bad in ["Ⅲ", "http", "200", "17:30", ":"] {
            assert!(!s.text.contains(bad), "{bad} in {}", s.text);
        }
        // A title naming its level is not told the level twice; a drill says so.
        let drill = speak(&Parts {
            exercise: true,
            title: "Ⅱ级响应",
            level: Some(2),
            asks_key: false,
            deadline: None,
            body: "",
            ..p.clone()
        });
        assert_eq!(
            drill.text,
            "湖上乡应急办演练通知：二级响应。收到请回复短信1。"
        );
        let clear = speak(&Parts {
            msg_type: "Cancel",
            title: "解除暴雨预警",
            level: None,
            body: "",
            ..p.clone()
        });
        assert_eq!(
            clear.text,
            "湖上乡应急办通知：解除暴雨预警。本通知无需回复。"
        );
    }

    #[test]
    fn a_long_notice_is_cut_at_a_sentence_and_says_so() {
        let body = "各村立即组织人员巡查山塘水库和地质灾害隐患点，发现险情立即报告。".repeat(12);
        let s = speak(&Parts {
            office: "湖上乡应急办",
            purpose: "repeat",
            msg_type: "Alert",
            level: Some(2),
            title: "台风橙色预警",
            body: &body,
            asks_key: true,
            ..Parts::default()
        });
        assert!(s.cut);
        assert!(
            s.text.chars().count() <= MAX_CHARS,
            "{}",
            s.text.chars().count()
        );
        assert!(
            s.text
                .starts_with("湖上乡应急办再次提醒：二级，橙色。台风橙色预警。")
        );
        assert!(
            s.text
                .ends_with("发现险情立即报告。内容较长，其余请看短信。收到请按1。"),
            "{}",
            s.text
        );
        // An escalation naming many people still ends with the instruction.
        let many = (0..40)
            .map(|i| format!("联系人{i} 1380013{i:04}"))
            .collect::<Vec<_>>()
            .join("、");
        let s = speak(&Parts {
            office: "湖上乡应急办",
            purpose: "escalation",
            msg_type: "Alert",
            title: "暴雨预警",
            escalation: Some(format!("溪口村尚未确认收到：{many}。请电话督促落实")),
            asks_key: true,
            ..Parts::default()
        });
        assert!(s.cut && s.text.chars().count() <= MAX_CHARS);
        assert!(s.text.ends_with("其余请看短信。收到请按1。"), "{}", s.text);
        assert!(s.text.contains("幺三八零零幺三零零零零"), "{}", s.text);
    }
}
