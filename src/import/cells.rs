//! A cell's text read as the value a field takes — dates as offices write
//! them, numbers, phones, choices by their Chinese names — with a problem
//! in Chinese when it is not one.

use chrono::NaiveDate;

/// A date written 2025-01-10, 2025/1/10, 2025.1.10, 2025年1月10日 or
/// 20250110, or a date cell Excel shows as its serial (45667, in a cell
/// formatted 常规), as `YYYY-MM-DD`.
pub fn date(v: &str) -> Result<String, String> {
    let t = v.split_whitespace().next().unwrap_or("");
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        let (y, m, d) = (&t[..4], &t[4..6], &t[6..]);
        return date(&format!("{y}-{m}-{d}"));
    }
    if t.len() == 5
        && t.bytes().all(|b| b.is_ascii_digit())
        && let Ok(days) = t.parse::<i64>()
        && let Some(d) = NaiveDate::from_ymd_opt(1899, 12, 30)
            .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(days)))
    {
        return Ok(d.to_string());
    }
    let t = t.replace(['年', '月', '/', '.'], "-").replace('日', "");
    NaiveDate::parse_from_str(&t, "%Y-%m-%d")
        .map(|d| d.to_string())
        .map_err(|_| format!("“{v}”不是日期（应写作 2025-01-10）"))
}

/// A number of at least 0.
pub fn amount(v: &str) -> Result<f64, String> {
    v.trim()
        .replace([',', '，'], "")
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .ok_or_else(|| format!("“{v}”不是数字"))
}

/// A whole number of at least 0.
pub fn count(v: &str) -> Result<i64, String> {
    let n = amount(v)?;
    if n.fract() != 0.0 {
        return Err(format!("“{v}”应为整数"));
    }
    Ok(n as i64)
}

/// A degree of longitude or latitude.
pub fn degree(v: &str, lo: f64, hi: f64) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("“{v}”不是 {lo} 到 {hi} 之间的度数"))
}

pub fn phone(v: &str) -> Result<crate::phone::Phone, String> {
    crate::phone::Phone::parse(v)
        .map_err(|_| format!("“{v}”不是电话号码（如 139 5951 2468 或 0595-2345 6789）"))
}

/// One of `choices` (名称, value) by its name, a name without brackets and
/// spaces, or the value itself.
pub fn choice<T: Copy>(v: &str, choices: &[(&str, T)], what: &str) -> Result<T, String> {
    let plain = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                c => c,
            })
            .collect::<String>()
    };
    let want = plain(v);
    choices
        .iter()
        .find(|(name, _)| plain(name) == want)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!("“{v}”不是{what}，应为：{}", names.join("、"))
        })
}

/// A list written with 、，, ; or new lines.
pub fn list(v: &str) -> Vec<String> {
    v.split(['、', ',', '，', ';', '；', '\n', '/'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_offices_write_them() {
        for v in [
            "2025-01-10",
            "2025/1/10",
            "2025.01.10",
            "2025年1月10日",
            "2025-01-10 00:00",
        ] {
            assert_eq!(date(v).as_deref(), Ok("2025-01-10"), "{v}");
        }
        assert!(date("2025-02-30").is_err());
        assert!(date("明年").unwrap_err().contains("不是日期"));
    }

    #[test]
    fn numbers_and_choices() {
        assert_eq!(amount("1,200.5"), Ok(1200.5));
        assert!(amount("-1").is_err());
        assert_eq!(count("12"), Ok(12));
        assert!(count("1.5").is_err());
        let c = [("危化品经营（带储存）", 1), ("危化品经营（不带储存）", 2)];
        assert_eq!(choice("危化品经营(带储存)", &c, "类型"), Ok(1));
        assert_eq!(choice(" 危化品经营（不带储存） ", &c, "类型"), Ok(2));
        assert!(choice("加油站", &c, "类型").unwrap_err().contains("应为"));
        assert_eq!(list("林一、陈二,  王三"), ["林一", "陈二", "王三"]);
    }
}
