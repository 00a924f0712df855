//! SMS length the way carriers count it, and fitting an alert into a part budget.
//!
//! Carriers bill per part, and Chinese providers count the 【signature】 as part of the text, so
//! the alert text is sized here before it is handed to any provider.

/// The alphabet a message is sent in; one character outside GSM-7 makes the whole text UCS-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The size of a text: `units` are GSM-7 septets or UTF-16 code units, `parts` the number of
/// SMS a carrier sends (and bills) for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    pub units: usize,
    pub parts: usize,
}

const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153; // 7 septets go to the concatenation header
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67; // 3 code units go to the concatenation header

/// Septets `c` takes in GSM 03.38: 1 for the basic table, 2 for the extension table (escape +
/// code), `None` if it cannot be sent in GSM-7 at all.
fn gsm7_units(c: char) -> Option<usize> {
    match c {
        // Basic table, in code order 0x00..0x7F (0x1B is the escape, not a character). The
        // Greek capitals are the Greek-block letters (U+0394 ...), not look-alike symbols.
        '@'
        | '£'
        | '$'
        | '¥'
        | 'è'
        | 'é'
        | 'ù'
        | 'ì'
        | 'ò'
        | 'Ç'
        | '\n'
        | 'Ø'
        | 'ø'
        | '\r'
        | 'Å'
        | 'å'
        | 'Δ'
        | '_'
        | 'Φ'
        | 'Γ'
        | 'Λ'
        | 'Ω'
        | 'Π'
        | 'Ψ'
        | 'Σ'
        | 'Θ'
        | 'Ξ'
        | 'Æ'
        | 'æ'
        | 'ß'
        | 'É'
        | ' '
        | '!'
        | '"'
        | '#'
        | '¤'
        | '%'
        | '&'
        | '\''
        | '('
        | ')'
        | '*'
        | '+'
        | ','
        | '-'
        | '.'
        | '/'
        | '0'..='9'
        | ':'
        | ';'
        | '<'
        | '='
        | '>'
        | '?'
        | '¡'
        | 'A'..='Z'
        | 'Ä'
        | 'Ö'
        | 'Ñ'
        | 'Ü'
        | '§'
        | '¿'
        | 'a'..='z'
        | 'ä'
        | 'ö'
        | 'ñ'
        | 'ü'
        | 'à' => Some(1),
        // Extension table: sent as escape + code, so two septets each.
        '\x0C' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

/// True when every character of `text` can be sent in GSM-7.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_units(c).is_some())
}

/// GSM-7 basic set counts 1 unit, extension chars ^{}\[~]|€ (and form feed) count 2; if any char is outside GSM-7 (basic+extension) the whole text is UCS-2, where each UTF-16 code unit counts 1 (so astral chars/emoji count 2). Single message: 160 GSM units / 70 UCS-2 units; otherwise parts = ceil(units/153) or ceil(units/67). Empty text is 0 units and 0 parts.
///
/// One refinement over plain `ceil`: handsets and gateways never split an escape pair or a
/// surrogate pair across two parts, so a 2-unit character that would straddle a part boundary
/// moves whole to the next part. Parts are therefore packed greedily, which equals
/// `ceil(units / 153)` (or `/ 67`) unless such a straddle happens, and is then one more.
pub fn count(text: &str) -> Segments {
    let gsm: Option<Vec<usize>> = text.chars().map(gsm7_units).collect();
    let (encoding, costs, single, per_part) = match gsm {
        Some(costs) => (Encoding::Gsm7, costs, GSM7_SINGLE, GSM7_PART),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            UCS2_SINGLE,
            UCS2_PART,
        ),
    };
    let units: usize = costs.iter().sum();
    let parts = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        let (mut parts, mut fill) = (1, 0);
        for cost in costs {
            if fill + cost > per_part {
                parts += 1;
                fill = 0;
            }
            fill += cost;
        }
        parts
    };
    Segments {
        encoding,
        units,
        parts,
    }
}

/// True if `c` attaches to the character before it (combining marks, variation selectors,
/// zero-width joiner, emoji skin tones and tags), so a cut just before it would split what the
/// reader sees as one symbol. Covers the common cases, not all of Unicode's segmentation rules.
fn continues_cluster(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{200D}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FE20}'..='\u{FE2F}'
            | '\u{1F3FB}'..='\u{1F3FF}'
            | '\u{E0020}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

/// Would keeping only `chars[..k]` cut through a visible symbol (emoji sequence, flag,
/// accented letter)?
fn splits_cluster(chars: &[char], k: usize) -> bool {
    let (Some(&prev), Some(&next)) = (chars.get(k.wrapping_sub(1)), chars.get(k)) else {
        return false;
    };
    if continues_cluster(next) || prev == '\u{200D}' {
        return true;
    }
    // Flags are pairs of regional indicators: an odd run before the cut is half a flag.
    if is_regional_indicator(prev) && is_regional_indicator(next) {
        let run = chars[..k]
            .iter()
            .rev()
            .take_while(|c| is_regional_indicator(**c))
            .count();
        return run % 2 == 1;
    }
    false
}

/// Build the final SMS text: `signature` (e.g. "【湖上乡应急办】") + body + tail (tail is the answer instruction, e.g. " 回复1确认 https://x/a/TOKEN"), such that count(result).parts <= max_parts. If it does not fit, the body is shortened (on a char boundary, never splitting a surrogate/GSM escape) and ends with "…" ; the signature and the tail are never cut. If signature+tail alone exceed max_parts, return signature+tail anyway (the tail is what matters).
///
/// Details:
/// - The body is cut after as many characters as fit, trailing whitespace is dropped before the
///   ellipsis, and cuts inside common multi-character symbols (emoji sequences, flags,
///   combining accents) are avoided.
/// - The ellipsis is "…" when the message is UCS-2 anyway, but "..." when signature, kept body
///   and tail are all GSM-7: "…" is not in GSM-7 and would by itself switch an English text to
///   UCS-2, cutting its capacity from 160/153 to 70/67 per part.
/// - If not even one body character fits next to signature and tail, the body is dropped
///   entirely (no lone ellipsis) and signature+tail is returned, even when that alone is over
///   `max_parts` (including `max_parts == 0`): a recipient must still get the answer
///   instruction, and sending one part too many beats not alerting.
pub fn fit(signature: &str, body: &str, tail: &str, max_parts: usize) -> String {
    let whole = format!("{signature}{body}{tail}");
    if count(&whole).parts <= max_parts {
        return whole;
    }

    let chars: Vec<char> = body.chars().collect();
    let candidate = |k: usize| -> Option<String> {
        let kept: String = chars[..k].iter().collect();
        let kept = kept.trim_end();
        if kept.is_empty() {
            return None;
        }
        let ellipsis = if is_gsm7(signature) && is_gsm7(kept) && is_gsm7(tail) {
            "..."
        } else {
            "…"
        };
        Some(format!("{signature}{kept}{ellipsis}{tail}"))
    };
    let fits = |k: usize| candidate(k).is_some_and(|text| count(&text).parts <= max_parts);

    // Binary search for the longest prefix that fits; the full body is known not to. Size only
    // grows with the prefix, but the encoding and ellipsis switch can make that not strictly
    // monotonic, so the walk below re-checks the final choice rather than trusting the search.
    // Each round halves `hi - lo`, so it ends within `usize::BITS` rounds; the bound on the
    // rounds makes that hold whatever the arithmetic inside does.
    let (mut lo, mut hi) = (0, chars.len());
    for _ in 0..usize::BITS {
        if hi - lo <= 1 {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Walk down from the search result to the longest prefix that ends on a symbol boundary and
    // fits; a range, so the walk is bounded too.
    (1..=lo)
        .rev()
        .find(|&k| !splits_cluster(&chars, k) && fits(k))
        .and_then(candidate)
        .unwrap_or_else(|| format!("{signature}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "【湖上乡应急办】";
    const TAIL: &str = " 回复1确认 https://x/a/TOKEN";

    fn seg(encoding: Encoding, units: usize, parts: usize) -> Segments {
        Segments {
            encoding,
            units,
            parts,
        }
    }

    fn ascii(n: usize) -> String {
        "abcdefghij".chars().cycle().take(n).collect()
    }

    fn chinese(n: usize) -> String {
        "洪水预警请转移".chars().cycle().take(n).collect()
    }

    #[test]
    fn empty_text_is_zero_parts() {
        assert_eq!(count(""), seg(Encoding::Gsm7, 0, 0));
    }

    #[test]
    fn ascii_boundaries() {
        assert_eq!(count(&ascii(1)), seg(Encoding::Gsm7, 1, 1));
        assert_eq!(count(&ascii(160)), seg(Encoding::Gsm7, 160, 1));
        assert_eq!(count(&ascii(161)), seg(Encoding::Gsm7, 161, 2));
        assert_eq!(count(&ascii(306)), seg(Encoding::Gsm7, 306, 2));
        assert_eq!(count(&ascii(307)), seg(Encoding::Gsm7, 307, 3));
        assert_eq!(count(&ascii(459)), seg(Encoding::Gsm7, 459, 3));
        assert_eq!(count(&ascii(460)), seg(Encoding::Gsm7, 460, 4));
    }

    #[test]
    fn chinese_boundaries() {
        assert_eq!(count(&chinese(1)), seg(Encoding::Ucs2, 1, 1));
        assert_eq!(count(&chinese(70)), seg(Encoding::Ucs2, 70, 1));
        assert_eq!(count(&chinese(71)), seg(Encoding::Ucs2, 71, 2));
        assert_eq!(count(&chinese(134)), seg(Encoding::Ucs2, 134, 2));
        assert_eq!(count(&chinese(135)), seg(Encoding::Ucs2, 135, 3));
        assert_eq!(count(&chinese(201)), seg(Encoding::Ucs2, 201, 3));
        assert_eq!(count(&chinese(202)), seg(Encoding::Ucs2, 202, 4));
    }

    #[test]
    fn extension_char_counts_two() {
        for ext in ['€', '{', '}', '[', ']', '~', '^', '\\', '|', '\x0C'] {
            let text = format!("{}{ext}", ascii(159));
            assert_eq!(count(&text), seg(Encoding::Gsm7, 161, 2), "{ext:?}");
            let text = format!("{}{ext}", ascii(158));
            assert_eq!(count(&text), seg(Encoding::Gsm7, 160, 1), "{ext:?}");
        }
    }

    #[test]
    fn one_chinese_char_switches_to_ucs2() {
        assert_eq!(count(&ascii(100)), seg(Encoding::Gsm7, 100, 1));
        let text = format!("{}警{}", ascii(50), ascii(50));
        assert_eq!(count(&text), seg(Encoding::Ucs2, 101, 2));
        // Extension characters are one UTF-16 unit once the text is UCS-2.
        assert_eq!(count("€{警"), seg(Encoding::Ucs2, 3, 1));
    }

    #[test]
    fn emoji_counts_two_ucs2_units() {
        assert_eq!(count("😀"), seg(Encoding::Ucs2, 2, 1));
        assert_eq!(
            count(&format!("{}😀", chinese(68))),
            seg(Encoding::Ucs2, 70, 1)
        );
        assert_eq!(
            count(&format!("{}😀", chinese(69))),
            seg(Encoding::Ucs2, 71, 2)
        );
    }

    #[test]
    fn pairs_are_not_split_across_parts() {
        // 306 septets would be 2 parts by plain ceil, but the escape pair straddles 153.
        let text = format!("{}{{{}", ascii(152), ascii(152));
        assert_eq!(count(&text), seg(Encoding::Gsm7, 306, 3));
        let text = format!("{}{{{}", ascii(151), ascii(153));
        assert_eq!(count(&text), seg(Encoding::Gsm7, 306, 2));
        // Same for a surrogate pair at the 67-unit boundary.
        let text = format!("{}😀{}", chinese(66), chinese(66));
        assert_eq!(count(&text), seg(Encoding::Ucs2, 134, 3));
        let text = format!("{}😀{}", chinese(65), chinese(67));
        assert_eq!(count(&text), seg(Encoding::Ucs2, 134, 2));
    }

    #[test]
    fn gsm_table_is_complete_and_exact() {
        let basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        assert_eq!(basic.chars().count(), 127, "128 codes minus the escape");
        for c in basic.chars() {
            assert_eq!(gsm7_units(c), Some(1), "{c:?}");
        }
        // Nothing else in all of Unicode is 1 or 2 septets.
        let all = (0..=0x10FFFF).filter_map(char::from_u32);
        let (ones, twos): (Vec<char>, Vec<char>) = all
            .filter(|c| gsm7_units(*c).is_some())
            .partition(|c| gsm7_units(*c) == Some(1));
        assert_eq!(ones, {
            let mut v: Vec<char> = basic.chars().collect();
            v.sort();
            v
        });
        assert_eq!(twos.len(), 10);
        // The Greek letters are the real Greek code points.
        assert_eq!(gsm7_units('\u{0394}'), Some(1)); // Δ
        assert_eq!(gsm7_units('\u{03A9}'), Some(1)); // Ω
        assert_eq!(gsm7_units('\u{2126}'), None); // OHM SIGN
        assert_eq!(gsm7_units('\u{2206}'), None); // INCREMENT
    }

    #[test]
    fn characters_outside_gsm() {
        // Lower-case ç is not in the table (only Ç is), nor are the typographic marks.
        for c in ['`', '\t', 'ç', 'á', '…', '“', '中'] {
            assert_eq!(count(&c.to_string()).encoding, Encoding::Ucs2, "{c:?}");
        }
        assert!(is_gsm7("Hello, World! @ 10:00 £5"));
        assert!(!is_gsm7("Hello `world`"));
    }

    #[test]
    fn fit_keeps_a_fitting_body_unchanged() {
        let body = "今晚20时起河道水位超警，请沿河住户立即转移。";
        let text = fit(SIGNATURE, body, TAIL, 1);
        assert_eq!(text, format!("{SIGNATURE}{body}{TAIL}"));
        assert_eq!(count(&text).parts, 1);
        assert_eq!(
            fit("[Fenghuo] ", "Flood warning", " Reply 1", 1),
            "[Fenghuo] Flood warning Reply 1"
        );
    }

    /// The result keeps signature and tail, stays within budget, and could not keep one more
    /// body character.
    fn assert_fitted(signature: &str, body: &str, tail: &str, max_parts: usize, ellipsis: &str) {
        let text = fit(signature, body, tail, max_parts);
        assert!(text.starts_with(signature), "{text}");
        assert!(text.ends_with(tail), "{text}");
        assert!(
            count(&text).parts <= max_parts,
            "{text}: {:?}",
            count(&text)
        );
        let kept = &text[signature.len()..text.len() - tail.len()];
        let kept = kept
            .strip_suffix(ellipsis)
            .unwrap_or_else(|| panic!("{text}"));
        assert!(body.starts_with(kept));
        let one_more: String = body.chars().take(kept.chars().count() + 1).collect();
        let longer = format!("{signature}{one_more}{ellipsis}{tail}");
        assert!(count(&longer).parts > max_parts, "not maximal: {text}");
    }

    #[test]
    fn fit_long_chinese_body_keeps_tail() {
        let body = chinese(400);
        for max_parts in 1..=4 {
            assert_fitted(SIGNATURE, &body, TAIL, max_parts, "…");
        }
        let text = fit(SIGNATURE, &body, TAIL, 2);
        assert_eq!(count(&text), seg(Encoding::Ucs2, 134, 2));
    }

    #[test]
    fn fit_long_ascii_body_keeps_tail() {
        // With a Chinese signature the text is UCS-2 anyway, so the ellipsis is "…".
        let body = ascii(1000);
        for max_parts in 1..=4 {
            assert_fitted(SIGNATURE, &body, TAIL, max_parts, "…");
        }
        // All GSM-7: "..." keeps it GSM-7 and uses the full 160/153 septets.
        for max_parts in 1..=4 {
            assert_fitted(
                "[Fenghuo] ",
                &body,
                " Reply 1 https://x/a/TOKEN",
                max_parts,
                "...",
            );
        }
        let text = fit("[Fenghuo] ", &body, " Reply 1 https://x/a/TOKEN", 1);
        assert_eq!(count(&text), seg(Encoding::Gsm7, 160, 1));
    }

    #[test]
    fn fit_never_exceeds_max_parts() {
        let bodies = [
            ascii(2000),
            chinese(2000),
            "€{}[]".repeat(300),
            "洪水😀 flood€ ".repeat(200),
            "😀".repeat(500),
            format!("{}警{}", ascii(500), ascii(500)),
            " ".repeat(500),
        ];
        let affixes = [
            (SIGNATURE, TAIL),
            ("[Fenghuo] ", " Reply 1"),
            ("", ""),
            ("{sig}", "~tail~"),
        ];
        for body in &bodies {
            for (signature, tail) in affixes {
                for max_parts in 1..=6 {
                    let text = fit(signature, body, tail, max_parts);
                    assert!(
                        count(&text).parts <= max_parts,
                        "{max_parts}: {text} -> {:?}",
                        count(&text)
                    );
                    assert!(text.starts_with(signature) && text.ends_with(tail));
                }
            }
        }
    }

    #[test]
    fn fit_does_not_cut_through_symbols() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let body = family.repeat(100);
        for max_parts in 1..=3 {
            let text = fit(SIGNATURE, &body, TAIL, max_parts);
            let kept = &text[SIGNATURE.len()..text.len() - TAIL.len()];
            let kept = kept.strip_suffix('…').unwrap_or_default();
            assert!(!kept.is_empty());
            assert_eq!(kept.len() % family.len(), 0, "{kept}");
            assert!(count(&text).parts <= max_parts);
        }
        let flags = "🇨🇳".repeat(100);
        let text = fit(SIGNATURE, &flags, TAIL, 1);
        let kept = text[SIGNATURE.len()..text.len() - TAIL.len()].trim_end_matches('…');
        assert_eq!(kept.chars().count() % 2, 0, "{kept}");
        let accents = "e\u{0301}".repeat(200);
        let text = fit(SIGNATURE, &accents, TAIL, 1);
        let kept = text[SIGNATURE.len()..text.len() - TAIL.len()].trim_end_matches('…');
        assert!(kept.ends_with('\u{0301}'), "{kept}");
    }

    #[test]
    fn fit_keeps_gsm_escapes_whole() {
        let body = "€".repeat(200);
        let text = fit("[F] ", &body, " R1", 1);
        assert_eq!(count(&text).encoding, Encoding::Gsm7);
        assert!(count(&text).parts <= 1);
        // '[' and ']' are escapes too: 6 + 2n + 3 ("...") + 3 <= 160  =>  n = 74
        assert_eq!(text, format!("[F] {}... R1", "€".repeat(74)));
    }

    #[test]
    fn fit_trims_whitespace_before_ellipsis() {
        // The longest prefix that fits (157 chars) ends in two of the spaces.
        let body = format!("{}     {}", ascii(155), ascii(100));
        let text = fit("", &body, "", 1);
        assert_eq!(text, format!("{}...", ascii(155)));
    }

    #[test]
    fn fit_returns_signature_and_tail_when_they_alone_are_too_long() {
        let tail = format!(" 回复1确认 {}", chinese(80));
        let text = fit(SIGNATURE, "请立即转移", &tail, 1);
        assert_eq!(text, format!("{SIGNATURE}{tail}"));
        // Room for the tail but not for one body character plus the ellipsis.
        let tail = chinese(70 - SIGNATURE.chars().count() - 1);
        assert_eq!(
            fit(SIGNATURE, "请立即转移", &tail, 1),
            format!("{SIGNATURE}{tail}")
        );
        assert_eq!(
            fit(SIGNATURE, "body", TAIL, 0),
            format!("{SIGNATURE}{TAIL}")
        );
        assert_eq!(fit("", "", "", 0), "");
    }

    /// Signature (8 units) + kept body + "…" + tail (6 + `extra` units) in one 70-unit part
    /// leaves `55 - extra` units for the body.
    fn one_part_with_room(body: &str, extra: usize) -> (String, usize) {
        let tail = format!(" 回复1确认{}", "x".repeat(extra));
        let text = fit(SIGNATURE, body, &tail, 1);
        assert_eq!(count(&text).parts, 1, "{text}");
        let kept = text
            .strip_prefix(SIGNATURE)
            .and_then(|t| t.strip_suffix(tail.as_str()))
            .and_then(|t| t.strip_suffix('…'))
            .unwrap_or_else(|| panic!("{text}"));
        (kept.to_string(), 55 - extra)
    }

    #[test]
    fn a_flag_emoji_is_never_split_across_sms_parts() {
        // Every room from 48 to 55 units: half the cuts would fall between the two regional
        // indicators of a flag (4 units), and the cut moves back to the flag before.
        for flags in ["🇨🇳", "🇨🇳🇯🇵🇰🇷"] {
            let body = flags.repeat(60);
            for extra in 0..8 {
                let (kept, room) = one_part_with_room(&body, extra);
                let want: String = body.chars().take(room / 4 * 2).collect();
                assert_eq!(kept, want, "room {room}");
            }
        }
    }

    #[test]
    fn emoji_sequences_and_accents_are_kept_whole() {
        // Scotland's flag: black flag, tag letters "gbsct", cancel tag.
        let scotland = "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        for (symbol, units) in [
            ("👍🏽", 4),                     // skin tone
            ("e\u{0301}", 2),              // combining accent
            ("1\u{FE0F}\u{20E3}", 3),      // keycap
            ("👨\u{200D}👩\u{200D}👧", 8), // family, zero-width joiners
            (scotland, 14),
        ] {
            let body = symbol.repeat(40);
            for extra in 0..8 {
                let (kept, room) = one_part_with_room(&body, extra);
                assert_eq!(kept, symbol.repeat(room / units), "{symbol:?} room {room}");
            }
        }
    }

    #[test]
    fn an_unpaired_regional_indicator_is_kept_like_a_letter() {
        // 31 characters + 🇨🇳 + a lone 🇯 fill the 37 units left exactly; the lone indicator is
        // not half of a flag, so the cut after it stands.
        let body = format!("{}🇨🇳🇯{}", chinese(31), chinese(50));
        assert_eq!(
            fit(SIGNATURE, &body, TAIL, 1),
            format!("{SIGNATURE}{}🇨🇳🇯…{TAIL}", chinese(31))
        );
        // The same after plain text: one indicator, then text.
        let body = format!("{}🇯{}", chinese(35), chinese(50));
        assert_eq!(
            fit(SIGNATURE, &body, TAIL, 1),
            format!("{SIGNATURE}{}🇯…{TAIL}", chinese(35))
        );
    }

    #[test]
    fn a_chinese_body_gets_the_one_character_ellipsis_even_with_english_signature_and_tail() {
        // 10 + 8 units of signature and tail, 1 for "…": 51 body characters in 70.
        assert_eq!(
            fit("[Fenghuo] ", &chinese(100), " Reply 1", 1),
            format!("[Fenghuo] {}… Reply 1", chinese(51))
        );
    }

    #[test]
    fn a_chinese_signature_makes_an_english_body_ucs2_so_the_ellipsis_is_one_character() {
        // 8 + 8 units of signature and tail, 1 for "…": 53 body characters in 70.
        assert_eq!(
            fit(SIGNATURE, &ascii(200), " Reply 1", 1),
            format!("{SIGNATURE}{}… Reply 1", ascii(53))
        );
        // Likewise a Chinese tail: 4 + 4 + 1 leaves 61.
        assert_eq!(
            fit("[F] ", &ascii(200), " 回复1", 1),
            format!("[F] {}… 回复1", ascii(61))
        );
    }

    #[test]
    fn chinese_text_beyond_the_cut_does_not_make_an_english_alert_ucs2() {
        // Only the kept part counts: it is GSM-7, so "..." and 160 septets: "[F] " is 6 (the
        // brackets are escapes), then 148 + 3 + 3.
        let body = format!("{}洪水", ascii(300));
        let text = fit("[F] ", &body, " R1", 1);
        assert_eq!(text, format!("[F] {}... R1", ascii(148)));
        assert_eq!(count(&text), seg(Encoding::Gsm7, 160, 1));
    }

    #[test]
    fn a_body_of_only_spaces_is_dropped_without_an_ellipsis() {
        assert_eq!(fit("[F] ", &" ".repeat(300), " R1", 1), "[F]  R1");
        assert_eq!(
            fit(SIGNATURE, &"\u{3000}".repeat(100), TAIL, 1),
            format!("{SIGNATURE}{TAIL}")
        );
    }

    #[test]
    fn fit_uses_every_part_it_is_allowed() {
        // Two UCS-2 parts hold 134 units: 8 + 24 + 1 leave 101 body characters.
        assert_eq!(
            fit(SIGNATURE, &chinese(400), TAIL, 2),
            format!("{SIGNATURE}{}…{TAIL}", chinese(101))
        );
        // Three GSM-7 parts hold 459 septets: 12 ("[" and "]" are escapes) + 26 + 3 leave 418.
        let tail = " Reply 1 https://x/a/TOKEN";
        assert_eq!(
            fit("[Fenghuo] ", &ascii(1000), tail, 3),
            format!("[Fenghuo] {}...{tail}", ascii(418))
        );
    }

    #[test]
    fn a_body_one_character_too_long_loses_its_last_character() {
        // 8 + 24 units of signature and tail leave 38 in one part: a 39-character body does
        // not fit whole, and 37 characters plus "…" do.
        let body = chinese(39);
        assert_eq!(
            fit(SIGNATURE, &body, TAIL, 1),
            format!("{SIGNATURE}{}…{TAIL}", chinese(37))
        );
        assert_eq!(
            fit(SIGNATURE, &chinese(38), TAIL, 1),
            format!("{SIGNATURE}{}{TAIL}", chinese(38))
        );
    }
}
