//! Phone numbers normalised to E.164. The office types numbers the way they
//! are printed (`138 0013 8000`, `0595-2345 6789`); providers want `+86…`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a phone number (expected e.g. 138 0013 8000 or +8613800138000)")]
pub struct BadPhone(pub String);

/// Normalises a Chinese mobile or landline number, or any international
/// number written with `+`/`00`, to E.164.
pub fn normalise(input: &str) -> Result<String, BadPhone> {
    let bad = || BadPhone(input.trim().to_string());
    let trimmed = input.trim();
    let mut digits = String::with_capacity(trimmed.len());
    let mut plus = false;
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '(' | ')' | '.' | '\u{3000}' => {}
            _ => return Err(bad()),
        }
    }
    if !plus && let Some(rest) = digits.strip_prefix("00") {
        digits = rest.to_string();
        plus = true;
    }
    let national = if plus {
        match digits.strip_prefix("86") {
            Some(n) => n.to_string(),
            None => {
                // Another country: E.164 allows at most 15 digits in all.
                return if (8..=15).contains(&digits.len()) && !digits.starts_with('0') {
                    Ok(format!("+{digits}"))
                } else {
                    Err(bad())
                };
            }
        }
    } else if digits.len() == 13 && digits.starts_with("861") {
        digits[2..].to_string()
    } else if let Some(n) = digits.strip_prefix('0') {
        // Domestic trunk prefix before an area code: 0595-xxxxxxx.
        if n.starts_with('0') {
            return Err(bad());
        }
        n.to_string()
    } else {
        digits
    };
    if is_cn_mobile(&national) || is_cn_landline(&national) {
        Ok(format!("+86{national}"))
    } else {
        Err(bad())
    }
}

fn is_cn_mobile(n: &str) -> bool {
    n.len() == 11 && n.starts_with('1') && matches!(n.as_bytes()[1], b'3'..=b'9')
}

/// Area code (2–3 digits, not starting with 0 or 1) plus a 7–8 digit local number.
fn is_cn_landline(n: &str) -> bool {
    (9..=11).contains(&n.len()) && matches!(n.as_bytes()[0], b'2'..=b'9')
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn accepts_common_writings() {
        for (input, want) in [
            ("138 0013 8000", "+8613800138000"),
            ("13800138000", "+8613800138000"),
            ("+86 138-0013-8000", "+8613800138000"),
            ("0086 13800138000", "+8613800138000"),
            ("8613800138000", "+8613800138000"),
            ("0595-2345 6789", "+8659523456789"),
            ("(0595) 23456789", "+8659523456789"),
            ("+1 415 555 0100", "+14155550100"),
        ] {
            assert_eq!(normalise(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_nonsense() {
        for input in [
            "",
            "hello",
            "12345",
            "138001380001",
            "12800138000",
            "+0123456789",
            "138x0013",
            "00000",
            "+86 123",
            "1380013800a",
        ] {
            assert!(normalise(input).is_err(), "{input} should be rejected");
        }
    }
}
