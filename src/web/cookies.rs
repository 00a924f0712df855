//! The dashboard's cookies: the session, the pre-sign-in CSRF token and the
//! language. Each is HttpOnly, SameSite=Lax, for the whole site, and Secure
//! when the daemon is reached over HTTPS.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// The session id (`accounts::sessions`).
pub const SESSION: &str = "fh_session";
/// Before sign-in there is no session: the sign-in form's CSRF token is
/// checked against this cookie instead (double submit).
pub const PRE_CSRF: &str = "fh_csrf";
pub const LANG: &str = "fh_lang";

/// How long the language choice is remembered.
const LANG_DAYS: i64 = 365;

/// A cookie that lasts as long as the browser session (the session id, the
/// pre-sign-in token: the server decides when they end).
pub fn for_browser_session(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// The language cookie, kept for a year.
pub fn lang(code: &str, secure: bool) -> Cookie<'static> {
    let mut c = for_browser_session(LANG, code.to_string(), secure);
    c.set_max_age(time::Duration::days(LANG_DAYS));
    c
}

/// Tells the browser to forget a cookie (empty, `Max-Age=0`).
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = for_browser_session(name, String::new(), secure);
    c.make_removal();
    c
}

/// A cookie's value from the request's jar.
pub fn value<'a>(jar: &'a CookieJar, name: &str) -> Option<&'a str> {
    jar.get(name).map(Cookie::value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_the_browser_is_told() {
        let s = for_browser_session(SESSION, "ab12".into(), true).to_string();
        for part in [
            "fh_session=ab12",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
        ] {
            assert!(s.contains(part), "{s}");
        }
        assert!(!s.contains("Max-Age"), "{s}");
        let plain = for_browser_session(PRE_CSRF, "cd".into(), false).to_string();
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(lang("en", false).to_string().contains("Max-Age=31536000"));
        let gone = removal(SESSION, false).to_string();
        assert!(gone.starts_with("fh_session=;"), "{gone}");
        assert!(gone.contains("Max-Age=0"), "{gone}");
    }

    #[test]
    fn values_are_read_from_every_cookie_header() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "fh_lang=en; fh_csrf=00ff".parse().unwrap());
        h.append("cookie", "fh_session=ab12".parse().unwrap());
        let jar = CookieJar::from_headers(&h);
        assert_eq!(value(&jar, LANG), Some("en"));
        assert_eq!(value(&jar, PRE_CSRF), Some("00ff"));
        assert_eq!(value(&jar, SESSION), Some("ab12"));
        assert_eq!(value(&jar, "other"), None);
    }
}
