//! The robots' request signing, as each provider documents it, and the
//! verifiers the loopback simulator (tests/support/robot_sim.rs) checks real
//! requests with.
//!
//! - WeCom (企业微信) group robot: no signature; the `key` in the webhook URL
//!   is the only credential.
//! - DingTalk (钉钉) custom robot, 加签: the string `timestamp + "\n" + secret`
//!   (timestamp in milliseconds) is the HMAC-SHA256 *message*, keyed with the
//!   secret (it starts with `SEC`); base64; URL-encoded into the `sign` query
//!   parameter beside `timestamp`. Refused (errcode 310000) more than an hour
//!   from DingTalk's clock.
//! - Feishu (飞书) custom bot, 签名校验: `timestamp + "\n" + secret` (timestamp in
//!   *seconds*) is the HMAC-SHA256 *key* and the message is empty; base64,
//!   sent as `timestamp` and `sign` in the JSON body. Refused with code 19021.
//!   The roles of key and message are the reverse of DingTalk's: computing
//!   one like the other is the usual mistake, and a unit test pins it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signed timestamp may be from the receiver's clock, both ways.
pub const WINDOW_MS: i64 = 3_600_000;

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("timestamp or sign missing or not a number")]
    Malformed,
    #[error("timestamp is not within one hour of the current time")]
    Stale,
    #[error("sign does not match")]
    Mismatch,
}

/// HMAC-SHA256 of `message` keyed with `key`. HMAC takes a key of any
/// length, so this is always `Some`; an `Option` rather than a panic all the
/// same (the key comes from the database).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().to_vec())
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// DingTalk's `sign` before URL-encoding: base64(HMAC-SHA256(key = secret,
/// message = timestamp_ms + "\n" + secret)).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> Option<String> {
    let message = format!("{timestamp_ms}\n{secret}");
    hmac_sha256(secret.as_bytes(), message.as_bytes()).map(|m| base64(&m))
}

/// DingTalk's `sign` as it appears in the URL (URL-encoded, UTF-8), as the
/// documentation's Java and Python samples print it.
pub fn dingtalk_sign_param(secret: &str, timestamp_ms: i64) -> Option<String> {
    dingtalk_sign(secret, timestamp_ms)
        .map(|s| form_urlencoded::byte_serialize(s.as_bytes()).collect())
}

/// Checks DingTalk's `timestamp` and `sign` query parameters (`sign` as the
/// query decodes it: the base64 text) at `now_ms`.
pub fn dingtalk_verify(
    secret: &str,
    timestamp: &str,
    sign: &str,
    now_ms: i64,
) -> Result<(), SignError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignError::Malformed)?;
    if (now_ms - ts).abs() > WINDOW_MS {
        return Err(SignError::Stale);
    }
    let want = dingtalk_sign(secret, ts).ok_or(SignError::Mismatch)?;
    same(&want, sign)
}

/// Feishu's `sign`: base64(HMAC-SHA256(key = timestamp_s + "\n" + secret,
/// message = empty)).
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> Option<String> {
    let key = format!("{timestamp_s}\n{secret}");
    hmac_sha256(key.as_bytes(), b"").map(|m| base64(&m))
}

/// Checks Feishu's body fields `timestamp` (seconds, as text) and `sign` at
/// `now_s`.
pub fn feishu_verify(
    secret: &str,
    timestamp: &str,
    sign: &str,
    now_s: i64,
) -> Result<(), SignError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignError::Malformed)?;
    if (now_s - ts).abs() * 1000 > WINDOW_MS {
        return Err(SignError::Stale);
    }
    let want = feishu_sign(secret, ts).ok_or(SignError::Mismatch)?;
    same(&want, sign)
}

fn same(want: &str, got: &str) -> Result<(), SignError> {
    if want.len() == got.len() && bool::from(want.as_bytes().ct_eq(got.as_bytes())) {
        Ok(())
    } else {
        Err(SignError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // DingTalk publishes the algorithm with sample code (Java and Python,
    // `secret = "this is secret"`, the current time) but no worked output,
    // so the vectors below are what that published Python sample prints for
    // these fixed timestamps (hmac + hashlib + base64 + quote_plus, an
    // implementation independent of this one). The second secret is the
    // SEC-form one of a published Node sample; the third timestamp gives a
    // sign with both '+' and '/', which must be URL-encoded (%2B, %2F).
    #[test]
    fn dingtalk_published_sample_algorithm() {
        assert_eq!(
            dingtalk_sign("this is secret", 1_577_262_236_757).as_deref(),
            Some("hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=")
        );
        assert_eq!(
            dingtalk_sign_param("this is secret", 1_577_262_236_757).as_deref(),
            Some("hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D")
        );
        assert_eq!(
            dingtalk_sign_param(
                "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc",
                1_700_000_000_000
            )
            .as_deref(),
            Some("6O5F%2FtvvUmbKr2ymOJ0PWyrKAGbwBxjupTxbQ4wDE5M%3D")
        );
        assert_eq!(
            dingtalk_sign_param("this is secret", 1_700_000_000_001).as_deref(),
            Some("aOZ0Y%2FR7BCg4xs87AcG5MYf26YmwfVRTLD0z3X%2Bp%2FmM%3D")
        );
    }

    // Feishu's guide gives the algorithm (Java/Go/Python samples signing an
    // empty message with `timestamp + "\n" + secret` as the key) and the
    // timestamp 1599360473 as its example, without an output; the vector is
    // what its Python sample prints for that timestamp and this secret.
    #[test]
    fn feishu_published_sample_algorithm() {
        assert_eq!(
            feishu_sign("test-secret", 1_599_360_473).as_deref(),
            Some("wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=")
        );
        assert_eq!(
            feishu_sign("nIMtb7r3N9pkXyXdtAbx6e", 1_599_360_473).as_deref(),
            Some("8XkigV4ad5JPY2LaX299xcMMDywUX9buomtj9pY5MiY=")
        );
        // DingTalk's way (secret as the key, the string as the message) is
        // not Feishu's.
        let dingtalk_way = hmac_sha256(b"test-secret", b"1599360473\ntest-secret")
            .map(|m| base64(&m))
            .unwrap_or_default();
        assert_ne!(
            feishu_sign("test-secret", 1_599_360_473).unwrap_or_default(),
            dingtalk_way
        );
    }

    #[test]
    fn verifiers_refuse_wrong_stale_and_malformed() {
        let now = 1_700_000_000_000;
        let sign = dingtalk_sign("SECabc", now).unwrap_or_default();
        assert_eq!(
            dingtalk_verify("SECabc", &now.to_string(), &sign, now),
            Ok(())
        );
        // 59 minutes late still passes, 61 minutes does not.
        assert_eq!(
            dingtalk_verify("SECabc", &now.to_string(), &sign, now + 59 * 60_000),
            Ok(())
        );
        assert_eq!(
            dingtalk_verify("SECabc", &now.to_string(), &sign, now + 61 * 60_000),
            Err(SignError::Stale)
        );
        assert_eq!(
            dingtalk_verify("SECabd", &now.to_string(), &sign, now),
            Err(SignError::Mismatch)
        );
        assert_eq!(
            dingtalk_verify("SECabc", "soon", &sign, now),
            Err(SignError::Malformed)
        );
        // A '+' the sender forgot to encode arrives as a space: refused.
        let spaced = sign.replace('+', " ");
        if spaced != sign {
            assert_eq!(
                dingtalk_verify("SECabc", &now.to_string(), &spaced, now),
                Err(SignError::Mismatch)
            );
        }
        let s = now / 1000;
        let sign = feishu_sign("fs", s).unwrap_or_default();
        assert_eq!(feishu_verify("fs", &s.to_string(), &sign, s), Ok(()));
        assert_eq!(
            feishu_verify("fs", &s.to_string(), &sign, s + 3601),
            Err(SignError::Stale)
        );
        assert_eq!(
            feishu_verify("fx", &s.to_string(), &sign, s),
            Err(SignError::Mismatch)
        );
        // Milliseconds where seconds belong are an hour and more away.
        assert_eq!(
            feishu_verify("fs", &now.to_string(), &sign, s),
            Err(SignError::Stale)
        );
    }
}
