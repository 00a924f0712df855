//! Phone numbers normalised to E.164. The office types numbers the way they
//! are printed (`138 0013 8000`, `0595-2345 6789`); providers want `+86…`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a phone number (expected e.g. 138 0013 8000 or +8613800138000)")]
pub struct BadPhone(pub String);

/// A phone number as a request writes it, held normalised to E.164: a
/// value of this type has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, BadPhone> {
        normalise(input).map(Phone)
    }
    /// E.164, e.g. +8613800138000.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Phone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Phone::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// For an optional phone field: absent, null or blank is none.
pub fn optional<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Phone>, D::Error> {
    match <Option<String> as serde::Deserialize>::deserialize(d)? {
        Some(s) if !s.trim().is_empty() => {
            Phone::parse(&s).map(Some).map_err(serde::de::Error::custom)
        }
        _ => Ok(None),
    }
}

impl utoipa::PartialSchema for Phone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A Chinese mobile or landline number as printed (138 0013 8000, 0595-2345 6789) \
                 or an international one with + or 00; stored as E.164",
            ))
            .examples(["+8613800138000"])
            .into()
    }
}

impl utoipa::ToSchema for Phone {}

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

/// A stored number the way it is dialled in China: `138 0013 8000` for a
/// mobile, `0595-2328 1234` for a landline (trunk 0, area code, local
/// number in groups of four from the right), other countries as stored.
/// Anything that is not E.164 is shown as it is.
pub fn dialled(stored: &str) -> String {
    let Some(national) = stored.strip_prefix("+86") else {
        return stored.to_string();
    };
    if !national.bytes().all(|b| b.is_ascii_digit()) {
        return stored.to_string();
    }
    if is_cn_mobile(national) {
        return format!("{} {} {}", &national[..3], &national[3..7], &national[7..]);
    }
    if is_cn_landline(national) {
        // Two-digit area codes: 10 (Beijing) and 20–29; all others have three.
        let area_len = if national.starts_with("10") || national.starts_with('2') {
            2
        } else {
            3
        };
        let (area, local) = national.split_at(area_len);
        let split = local.len().saturating_sub(4);
        return format!("0{area}-{} {}", &local[..split], &local[split..]);
    }
    stored.to_string()
}

/// The digits to look for when someone searches for a number however they
/// typed it (`139 5951 2468`, `+86 139-5951-2468`, `0595 2328`): the
/// national digits without the country code or trunk 0, or none when the
/// query is not a number. Match it as a substring of the stored E.164.
pub fn search_digits(query: &str) -> Option<String> {
    let q = query.trim();
    if q.is_empty()
        || !q.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '+' | '(' | ')' | '.' | '\u{3000}')
        })
    {
        return None;
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let national = if q.starts_with('+') || digits.starts_with("0086") {
        digits
            .trim_start_matches("00")
            .strip_prefix("86")
            .unwrap_or(&digits)
            .to_string()
    } else if digits.len() == 13 && digits.starts_with("861") {
        digits[2..].to_string()
    } else {
        digits.strip_prefix('0').unwrap_or(&digits).to_string()
    };
    (national.len() >= 3).then_some(national)
}

fn is_cn_mobile(n: &str) -> bool {
    n.len() == 11 && n.starts_with('1') && matches!(n.as_bytes()[1], b'3'..=b'9')
}

/// Area code plus local number: Beijing's 10 with 8 digits, or a 2–3 digit
/// code starting 2–9 with 7–8 digits.
fn is_cn_landline(n: &str) -> bool {
    (n.starts_with("10") && n.len() == 10)
        || ((9..=11).contains(&n.len()) && matches!(n.as_bytes()[0], b'2'..=b'9'))
}

#[cfg(test)]
mod tests {
    use super::{BadPhone, normalise};

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

    /// The number is refused, and the error quotes it.
    fn refused(input: &str) {
        assert_eq!(
            normalise(input),
            Err(BadPhone(input.to_string())),
            "{input}"
        );
    }

    #[test]
    fn a_plus_inside_a_number_is_refused() {
        for input in ["138+00138000", "86+13800138000", "1+4155550100"] {
            refused(input);
        }
    }

    #[test]
    fn the_error_quotes_what_was_typed_without_the_outer_spaces() {
        let e = normalise("  138x0013  ").unwrap_err();
        assert_eq!(e, BadPhone("138x0013".to_string()));
        assert_eq!(
            e.to_string(),
            "'138x0013' is not a phone number (expected e.g. 138 0013 8000 or +8613800138000)"
        );
    }

    #[test]
    fn a_13_digit_number_is_read_as_86_only_when_a_mobile_follows() {
        assert_eq!(
            normalise("86 138 0013 8000").as_deref(),
            Ok("+8613800138000")
        );
        // Thirteen digits that do not start 861 are not a country code plus a mobile.
        for input in ["87 138 0013 8000", "05 138 0013 8000", "99 595 2345 6789"] {
            refused(input);
        }
    }

    #[test]
    fn landlines_need_an_area_code_and_a_full_local_number() {
        assert_eq!(normalise("021-2345678").as_deref(), Ok("+86212345678"));
        assert_eq!(normalise("0595-2345 6789").as_deref(), Ok("+8659523456789"));
        assert_eq!(normalise("010-6234 5678").as_deref(), Ok("+861062345678"));
        for input in [
            "595 1234",
            "010-6234 567",
            "0595-234",
            "2345",
            "0595-2345 67890",
        ] {
            refused(input);
        }
    }

    #[test]
    fn mobiles_need_eleven_digits_starting_13_to_19() {
        for (input, want) in [
            ("130 0000 0000", "+8613000000000"),
            ("199 9999 9999", "+8619999999999"),
        ] {
            assert_eq!(normalise(input).as_deref(), Ok(want), "{input}");
        }
        // 11 digits starting 1 but not 13..19; 12 digits starting 13.
        for input in ["110 0000 0000", "120 0013 8000", "138 0013 8000 1"] {
            refused(input);
        }
    }

    #[test]
    fn printed_separators_are_ignored() {
        for input in [
            "138\u{3000}0013\u{3000}8000",
            "138.0013.8000",
            "(138) 0013-8000",
            "\t13800138000\n",
        ] {
            assert_eq!(
                normalise(input).as_deref(),
                Ok("+8613800138000"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn foreign_numbers_keep_their_country_code_within_e164_length() {
        assert_eq!(
            normalise("+44 20 7946 0958").as_deref(),
            Ok("+442079460958")
        );
        assert_eq!(
            normalise("0044 20 7946 0958").as_deref(),
            Ok("+442079460958")
        );
        assert_eq!(normalise("+1234 5678").as_deref(), Ok("+12345678"));
        assert_eq!(
            normalise("+123 4567 8901 2345").as_deref(),
            Ok("+123456789012345")
        );
        for input in ["+123 4567", "+123 4567 8901 23456", "+0 415 555 0100"] {
            refused(input);
        }
    }

    #[test]
    fn numbers_are_shown_as_dialled() {
        use super::dialled;
        assert_eq!(dialled("+8613800138000"), "138 0013 8000");
        assert_eq!(dialled("+8659523281234"), "0595-2328 1234");
        assert_eq!(dialled("+86212345678"), "021-234 5678");
        assert_eq!(dialled("+861062345678"), "010-6234 5678");
        assert_eq!(dialled("+14155550100"), "+14155550100");
        assert_eq!(dialled("not a phone"), "not a phone");
    }

    #[test]
    fn searches_match_numbers_however_typed() {
        use super::search_digits;
        for (q, want) in [
            ("139 5951 2468", Some("13959512468")),
            ("+86 139-5951-2468", Some("13959512468")),
            ("0086 139 5951 2468", Some("13959512468")),
            ("0595-2328 1234", Some("59523281234")),
            ("2328", Some("2328")),
            ("12", None),
            ("王应急", None),
            ("", None),
        ] {
            assert_eq!(search_digits(q).as_deref(), want, "{q}");
        }
    }
}
