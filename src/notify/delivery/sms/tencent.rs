//! Tencent Cloud SMS `SendSms` (2021-01-11): TC3-HMAC-SHA256 signing, the signed POST, and
//! how its answers are classified.

use hmac::Mac;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::json;

use crate::config::TencentConfig;
use crate::notify::delivery::channel::{Outcome, SendFuture, SmsMessage, SmsProvider};
use std::fmt;

use sha2::{Digest, Sha256};

use super::mac::*;
use super::*;

// ---------------------------------------------------------------------------------------------
// TC3-HMAC-SHA256
// ---------------------------------------------------------------------------------------------

const TC3_ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const TC3_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const TC3_SIGNED_HEADERS: &str = "content-type;host";
const TC3_TERMINATOR: &str = "tc3_request";

/// The inputs of one TC3-signed request (always `POST /` with a JSON body).
#[derive(Clone, Copy)]
pub struct Tc3Request<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub service: &'a str,
    pub host: &'a str,
    /// Unix seconds; also sent as `X-TC-Timestamp`.
    pub timestamp: i64,
    pub body: &'a str,
}

// Hand-written so that logging a request can never print the secret key.
impl fmt::Debug for Tc3Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tc3Request")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("timestamp", &self.timestamp)
            .field("body", &self.body)
            .finish()
    }
}

/// `YYYY-MM-DD` of a Unix timestamp in UTC, as TC3 puts in the credential scope; `None` outside
/// the calendar chrono knows (±262,000 years), which no clock gives.
fn utc_date(timestamp: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(timestamp, 0).map(|t| t.format("%Y-%m-%d").to_string())
}

/// The date of the credential scope of a request signed at `timestamp`. A timestamp out of
/// the calendar gives an empty date, which [`tc3_verify`] never accepts.
fn scope_date(timestamp: i64) -> String {
    utc_date(timestamp).unwrap_or_default()
}

/// Header values go into the canonical request lower-cased and trimmed, as TC3 specifies.
fn tc3_canonical_host(host: &str) -> String {
    host.trim().to_ascii_lowercase()
}

/// hex(SHA256(CanonicalRequest)) for POST / with content-type "application/json; charset=utf-8" and host, signed headers content-type;host.
pub fn tc3_canonical_request_hash(host: &str, body: &str) -> String {
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{TC3_CONTENT_TYPE}\nhost:{}\n\n{TC3_SIGNED_HEADERS}\n{}",
        tc3_canonical_host(host),
        hex::encode(Sha256::digest(body.as_bytes())),
    );
    hex::encode(Sha256::digest(canonical_request.as_bytes()))
}

/// The final MAC over StringToSign, keyed by the date/service derived signing key.
fn tc3_mac(
    secret_key: &str,
    service: &str,
    date: &str,
    host: &str,
    timestamp: i64,
    body: &str,
) -> HmacSha256 {
    let string_to_sign = format!(
        "{TC3_ALGORITHM}\n{timestamp}\n{date}/{service}/{TC3_TERMINATOR}\n{}",
        tc3_canonical_request_hash(host, body),
    );
    let secret_date = hmac_sha256_bytes(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256_bytes(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256_bytes(&secret_service, TC3_TERMINATOR.as_bytes());
    let mut mac = hmac_sha256(&secret_signing);
    mac.update(string_to_sign.as_bytes());
    mac
}

/// The hex signature.
pub fn tc3_signature(req: &Tc3Request) -> String {
    let date = scope_date(req.timestamp);
    let mac = tc3_mac(
        req.secret_key,
        req.service,
        &date,
        req.host,
        req.timestamp,
        req.body,
    );
    hex::encode(mac.finalize().into_bytes())
}

/// The full Authorization header value.
pub fn tc3_authorization(req: &Tc3Request) -> String {
    format!(
        "{TC3_ALGORITHM} Credential={}/{}/{}/{TC3_TERMINATOR}, SignedHeaders={TC3_SIGNED_HEADERS}, Signature={}",
        req.secret_id,
        scope_date(req.timestamp),
        req.service,
        tc3_signature(req),
    )
}

/// Verify an Authorization header against the received body/host/timestamp/secret; parses Credential (secret id, date, service) from the header itself; checks the date in the credential equals the UTC date of the timestamp.
///
/// Only `SignedHeaders=content-type;host` is accepted, since that is all [`tc3_authorization`]
/// produces. Whether `timestamp` is recent enough is the caller's policy, not checked here.
pub fn tc3_verify(
    secret_id: &str,
    secret_key: &str,
    host: &str,
    timestamp: i64,
    body: &str,
    authorization: &str,
) -> bool {
    let Some(rest) = authorization
        .trim()
        .strip_prefix(TC3_ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
    else {
        return false;
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let Some((name, value)) = field.trim().split_once('=') else {
            return false;
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return false,
        };
        // A repeated field would make "which one was checked" ambiguous.
        if slot.replace(value).is_some() {
            return false;
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return false;
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [id, date, service, terminator] = scope.as_slice() else {
        return false;
    };
    if *id != secret_id
        || utc_date(timestamp).as_deref() != Some(*date)
        || service.is_empty()
        || *terminator != TC3_TERMINATOR
        || signed_headers != TC3_SIGNED_HEADERS
    {
        return false;
    }
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    tc3_mac(secret_key, service, date, host, timestamp, body)
        .verify_slice(&signature)
        .is_ok()
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// Tencent Cloud SMS `SendSms` (2021-01-11), TC3-HMAC-SHA256.
pub struct TencentSms {
    client: Client,
    url: Url,
    /// What we send as `Host` and sign; must be what the server sees.
    host: String,
    secret_id: String,
    secret_key: String,
    sdk_app_id: String,
    sign_name: String,
    template_id: String,
    region: String,
}

impl TencentSms {
    pub fn new(cfg: &TencentConfig, timeout_secs: u64) -> Result<Self, SmsConfigError> {
        let url = http_url(&cfg.base_url, "sms.tencent.base_url")?;
        // The signer canonicalises `POST /` with an empty query, so any other path or query
        // would make every signature wrong.
        if url.path() != "/" || url.query().is_some() {
            return Err(SmsConfigError::Invalid {
                setting: "sms.tencent.base_url",
                message: format!(
                    "'{url}' must have no path or query (e.g. https://sms.tencentcloudapi.com/)"
                ),
            });
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(SmsConfigError::Missing("sms.tencent.base_url")),
        };
        let region = required(&cfg.region, "sms.tencent.region")?;
        header_safe(&region, "sms.tencent.region")?;
        Ok(TencentSms {
            secret_id: required(&cfg.secret_id, "sms.tencent.secret_id")?,
            secret_key: required(&cfg.secret_key, "sms.tencent.secret_key")?,
            sdk_app_id: required(&cfg.sdk_app_id, "sms.tencent.sdk_app_id")?,
            sign_name: required(&cfg.sign_name, "sms.tencent.sign_name")?,
            template_id: required(&cfg.template_id, "sms.tencent.template_id")?,
            region,
            client: http_client(timeout_secs)?,
            url,
            host,
        })
    }

    fn request(&self, msg: &SmsMessage, timestamp: i64) -> RequestBuilder {
        let body = json!({
            "PhoneNumberSet": [msg.to],
            "SmsSdkAppId": self.sdk_app_id,
            "TemplateId": self.template_id,
            "SignName": self.sign_name,
            "TemplateParamSet": [msg.text_without_signature],
            "SessionContext": msg.reference,
        })
        .to_string();
        let authorization = tc3_authorization(&Tc3Request {
            secret_id: &self.secret_id,
            secret_key: &self.secret_key,
            service: "sms",
            host: &self.host,
            timestamp,
            body: &body,
        });
        // The body is sent as the exact bytes that were signed; `.json()` would re-serialise
        // and set a content type that differs from the signed one.
        self.client
            .post(self.url.clone())
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, TC3_CONTENT_TYPE)
            .header(AUTHORIZATION, authorization)
            .header("X-TC-Action", "SendSms")
            .header("X-TC-Version", "2021-01-11")
            .header("X-TC-Region", &self.region)
            .header("X-TC-Timestamp", timestamp.to_string())
            .body(body)
    }
}

#[derive(Deserialize)]
struct TencentEnvelope {
    #[serde(rename = "Response")]
    response: TencentResponse,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TencentResponse {
    #[serde(default)]
    error: Option<TencentStatus>,
    #[serde(default)]
    send_status_set: Vec<TencentStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TencentStatus {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    serial_no: String,
}

fn tencent_code_is_transient(code: &str) -> bool {
    code.starts_with("LimitExceeded")
        || code.starts_with("InternalError")
        || code.starts_with("RequestLimitExceeded")
}

fn tencent_outcome(reply: &Reply) -> Outcome {
    let Ok(TencentEnvelope { response }) = serde_json::from_slice(&reply.body) else {
        return unreadable("tencent", reply);
    };
    // A request-level error, else the status of our one number.
    let status = match response.error {
        Some(error) => error,
        None => match response.send_status_set.into_iter().next() {
            Some(status) => status,
            None => return unreadable("tencent", reply),
        },
    };
    if status.code == "Ok" && reply.status.is_success() {
        return Outcome::Sent {
            provider_id: status.serial_no,
        };
    }
    let detail = format!("tencent {}: {}", status.code, clip(&status.message));
    if tencent_code_is_transient(&status.code) || retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

impl SmsProvider for TencentSms {
    fn name(&self) -> &'static str {
        "tencent"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            match execute("tencent", self.request(msg, unix_now())).await {
                Ok(reply) => tencent_outcome(&reply),
                Err(outcome) => outcome,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::test_support::*;
    use serde_json::Value;

    const TENCENT_BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn tencent_example() -> Tc3Request<'static> {
        Tc3Request {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            timestamp: 1_551_113_065,
            body: TENCENT_BODY,
        }
    }

    #[test]
    fn tc3_scope_dates_across_leap_years_and_centuries() {
        assert_eq!(utc_date(1_551_113_065).as_deref(), Some("2019-02-25"));
        assert_eq!(utc_date(0).as_deref(), Some("1970-01-01"));
        assert_eq!(utc_date(86_399).as_deref(), Some("1970-01-01"));
        assert_eq!(utc_date(-1).as_deref(), Some("1969-12-31"));
        assert_eq!(utc_date(-86_400).as_deref(), Some("1969-12-31"));
        assert_eq!(utc_date(951_782_400).as_deref(), Some("2000-02-29")); // leap: divisible by 400
        assert_eq!(
            utc_date(951_782_400 + 86_400).as_deref(),
            Some("2000-03-01")
        );
        assert_eq!(utc_date(1_709_164_800).as_deref(), Some("2024-02-29")); // leap: divisible by 4
        assert_eq!(utc_date(1_709_164_800 - 1).as_deref(), Some("2024-02-28"));
        assert_eq!(utc_date(4_107_456_000).as_deref(), Some("2100-02-28")); // not leap: divisible by 100
        assert_eq!(utc_date(4_107_542_400).as_deref(), Some("2100-03-01"));
        assert_eq!(utc_date(-2_203_977_600).as_deref(), Some("1900-02-28"));
        assert_eq!(utc_date(-2_203_891_200).as_deref(), Some("1900-03-01"));
        assert_eq!(utc_date(-11_670_998_400).as_deref(), Some("1600-02-29"));
        assert_eq!(utc_date(2_147_483_647).as_deref(), Some("2038-01-19"));
        assert_eq!(utc_date(1_735_689_599).as_deref(), Some("2024-12-31"));
        assert_eq!(utc_date(1_735_689_600).as_deref(), Some("2025-01-01"));
    }

    #[test]
    fn tc3_scope_turns_at_midnight_utc() {
        // 2019-02-26 00:00:00 UTC, which is 08:00 in Beijing: the scope follows UTC.
        let midnight = 1_551_139_200;
        let before = Tc3Request {
            timestamp: midnight - 1,
            ..tencent_example()
        };
        let after = Tc3Request {
            timestamp: midnight,
            ..tencent_example()
        };
        let (auth_before, auth_after) = (tc3_authorization(&before), tc3_authorization(&after));
        assert!(auth_before.contains("/2019-02-25/cvm/"), "{auth_before}");
        assert!(auth_after.contains("/2019-02-26/cvm/"), "{auth_after}");
        assert!(tc3_verify_request(&before, &auth_before));
        assert!(tc3_verify_request(&after, &auth_after));
        // A header signed one second before midnight names the old day: checked against a
        // timestamp one second later, it fails on the date before the MAC is computed.
        let replayed = Tc3Request {
            timestamp: midnight,
            ..before
        };
        assert!(!tc3_verify_request(&replayed, &auth_before));
        // A timestamp beyond the calendar neither panics nor verifies, even against a header
        // with an empty date.
        for ts in [i64::MIN, i64::MAX] {
            let far = Tc3Request {
                timestamp: ts,
                ..tencent_example()
            };
            assert_eq!(utc_date(ts), None);
            assert!(!tc3_verify_request(&far, &tc3_authorization(&far)));
            assert!(!tc3_verify_request(
                &far,
                &tc3_header_for_scope(&far, "", "cvm")
            ));
        }
    }

    #[test]
    fn tencent_worked_example() {
        let req = tencent_example();
        assert!(TENCENT_BODY.contains(r"\u672a"), "escapes are literal text");
        assert_eq!(
            tc3_canonical_request_hash(req.host, req.body),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            tc3_signature(&req),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            tc3_authorization(&req),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn tencent_round_trip() {
        let req = Tc3Request {
            secret_id: "AKIDfenghuo",
            secret_key: "key",
            service: "sms",
            host: "127.0.0.1:8443",
            timestamp: 1_709_164_800,
            body: r#"{"PhoneNumberSet":["+8613800000000"],"SignName":"湖上乡应急办"}"#,
        };
        let auth = tc3_authorization(&req);
        assert!(tc3_verify(
            req.secret_id,
            req.secret_key,
            req.host,
            req.timestamp,
            req.body,
            &auth
        ));
        // The worked example verifies too.
        let ex = tencent_example();
        assert!(tc3_verify(
            ex.secret_id,
            ex.secret_key,
            ex.host,
            ex.timestamp,
            ex.body,
            &tc3_authorization(&ex)
        ));
    }

    #[test]
    fn tencent_tamper_is_rejected() {
        let req = tencent_example();
        let auth = tc3_authorization(&req);
        let verify = |id: &str, key: &str, host: &str, ts: i64, body: &str, auth: &str| {
            tc3_verify(id, key, host, ts, body, auth)
        };
        let (id, key, host, ts, body) = (
            req.secret_id,
            req.secret_key,
            req.host,
            req.timestamp,
            req.body,
        );
        assert!(verify(id, key, host, ts, body, &auth));
        assert!(!verify(id, key, host, ts, &body.replace("1", "2"), &auth));
        assert!(!verify(id, key, "sms.tencentcloudapi.com", ts, body, &auth));
        assert!(!verify(id, "wrong", host, ts, body, &auth));
        assert!(!verify("AKIDother", key, host, ts, body, &auth));
        // Same UTC day, different second: the timestamp itself is signed.
        assert!(!verify(id, key, host, ts + 1, body, &auth));
        // A different day fails on the credential date before the MAC is computed.
        assert!(!verify(id, key, host, ts + 86_400, body, &auth));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("/cvm/", "/sms/")
        ));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("2019-02-25", "2019-02-26")
        ));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("content-type;host", "host")
        ));
        let mut flipped = auth.clone();
        let last = flipped.pop();
        flipped.push(if last == Some('0') { '1' } else { '0' });
        assert!(!verify(id, key, host, ts, body, &flipped));
        assert!(!verify(
            id,
            key,
            host,
            ts,
            body,
            &auth.replace("TC3-", "TC4-")
        ));
        let doubled = format!("{auth}, Signature={}", tc3_signature(&req));
        assert!(!verify(id, key, host, ts, body, &doubled));
        assert!(!verify(id, key, host, ts, body, ""));
        assert!(!verify(id, key, host, ts, body, "TC3-HMAC-SHA256 garbage"));
    }

    /// An Authorization header whose signature is correct for the credential scope it names,
    /// as a client with the right key but the wrong clock or service name would send.
    fn tc3_header_for_scope(req: &Tc3Request, date: &str, service: &str) -> String {
        let mac = tc3_mac(
            req.secret_key,
            service,
            date,
            req.host,
            req.timestamp,
            req.body,
        );
        format!(
            "TC3-HMAC-SHA256 Credential={}/{date}/{service}/tc3_request, \
             SignedHeaders=content-type;host, Signature={}",
            req.secret_id,
            hex::encode(mac.finalize().into_bytes())
        )
    }

    fn tc3_verify_request(req: &Tc3Request, authorization: &str) -> bool {
        tc3_verify(
            req.secret_id,
            req.secret_key,
            req.host,
            req.timestamp,
            req.body,
            authorization,
        )
    }

    #[test]
    fn tencent_scope_must_be_the_request_day_and_a_named_service() {
        let req = tencent_example();
        let own = tc3_header_for_scope(&req, "2019-02-25", "cvm");
        assert_eq!(own, tc3_authorization(&req));
        assert!(tc3_verify_request(&req, &own));
        // Correctly signed, but for the next day: the credential date is checked.
        let tomorrow = tc3_header_for_scope(&req, "2019-02-26", "cvm");
        assert!(!tc3_verify_request(&req, &tomorrow));
        // Correctly signed, but with no service in the scope.
        let no_service = tc3_header_for_scope(&req, "2019-02-25", "");
        assert!(
            no_service.contains("/2019-02-25//tc3_request,"),
            "{no_service}"
        );
        assert!(!tc3_verify_request(&req, &no_service));
        // Another service, correctly signed, is that service's business: it verifies.
        let sms = tc3_header_for_scope(&req, "2019-02-25", "sms");
        assert!(tc3_verify_request(&req, &sms));
    }

    #[test]
    fn tencent_scope_needs_exactly_four_parts_ending_tc3_request() {
        let req = tencent_example();
        let auth = tc3_authorization(&req);
        for bad in [
            auth.replace("/tc3_request", "/tc4_request"),
            auth.replace("/tc3_request", "/tc3_request/x"),
            auth.replace("/cvm/tc3_request", "/tc3_request"),
            auth.replace("Credential=", "Scope="),
            auth.replace("SignedHeaders=", "Signed="),
            auth.replace(", Signature=", ", Signature=zz"),
            auth.replace(", SignedHeaders", " SignedHeaders"),
        ] {
            assert!(!tc3_verify_request(&req, &bad), "{bad}");
        }
        // Surrounding whitespace and a trimmed, lower-cased host are tolerated.
        assert!(tc3_verify_request(&req, &format!("  {auth} ")));
        let shouting = Tc3Request {
            host: " CVM.TencentCloudAPI.com ",
            ..req
        };
        assert!(tc3_verify_request(&shouting, &auth));
    }

    #[test]
    fn tc3_debug_redacts_secret_key() {
        let shown = format!("{:?}", tencent_example());
        assert!(shown.contains("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"));
        assert!(!shown.contains("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"));
    }

    #[test]
    fn tencent_request_is_signed_and_complete() {
        let mut cfg = sms_config().tencent;
        cfg.base_url = "http://127.0.0.1:8443/".into();
        let p = TencentSms::new(&cfg, 5).expect("provider");
        let req = p
            .request(&message(), 1_709_164_800)
            .build()
            .expect("request");
        assert_eq!(req.method(), reqwest::Method::POST);
        assert_eq!(header(&req, "host"), "127.0.0.1:8443");
        assert_eq!(header(&req, "content-type"), TC3_CONTENT_TYPE);
        assert_eq!(header(&req, "x-tc-action"), "SendSms");
        assert_eq!(header(&req, "x-tc-version"), "2021-01-11");
        assert_eq!(header(&req, "x-tc-region"), "ap-guangzhou");
        assert_eq!(header(&req, "x-tc-timestamp"), "1709164800");
        let body = body_text(&req);
        let auth = header(&req, "authorization");
        assert!(
            auth.contains("Credential=AKIDfenghuo/2024-02-29/sms/tc3_request"),
            "{auth}"
        );
        assert!(tc3_verify(
            "AKIDfenghuo",
            "tencentKey",
            "127.0.0.1:8443",
            1_709_164_800,
            &body,
            auth
        ));
        assert!(!tc3_verify(
            "AKIDfenghuo",
            "tencentKey",
            "127.0.0.1",
            1_709_164_800,
            &body,
            auth
        ));
        let sent: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            sent,
            json!({
                "PhoneNumberSet": ["+8613800138000"],
                "SmsSdkAppId": "1400000000",
                "TemplateId": "123456",
                "SignName": "湖上乡应急办",
                "TemplateParamSet": ["暴雨红色预警：请立即转移。回复1确认"],
                "SessionContext": "dlv-42",
            })
        );
        assert!(
            body.contains("暴雨"),
            "UTF-8 is sent as is, not \\u-escaped"
        );
    }

    #[test]
    fn tencent_host_omits_default_port() {
        let p = TencentSms::new(&sms_config().tencent, 5).expect("provider");
        assert_eq!(p.host, "sms.tencentcloudapi.com");
        let mut cfg = sms_config().tencent;
        cfg.base_url = "https://sms.tencentcloudapi.com:443".into();
        assert_eq!(
            TencentSms::new(&cfg, 5).expect("provider").host,
            "sms.tencentcloudapi.com"
        );
    }

    #[test]
    fn tencent_outcomes() {
        let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619",
            "PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"dlv-42","Code":"Ok",
            "Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}"#;
        assert_eq!(
            tencent_outcome(&reply(200, ok)),
            sent("5000:1045710669157053657849499619")
        );
        let status = |code: &str| {
            format!(
                r#"{{"Response":{{"SendStatusSet":[{{"SerialNo":"","Code":"{code}","Message":"m"}}],"RequestId":"r"}}}}"#
            )
        };
        let error = |code: &str| {
            format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#
            )
        };
        for code in [
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "LimitExceeded.PhoneNumberDailyLimit",
            "InternalError.Timeout",
            "RequestLimitExceeded",
        ] {
            assert!(
                is_transient(&tencent_outcome(&reply(200, &status(code)))),
                "{code}"
            );
            assert!(
                is_transient(&tencent_outcome(&reply(200, &error(code)))),
                "{code}"
            );
        }
        for code in [
            "InvalidParameterValue.IncorrectPhoneNumber",
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "AuthFailure.SignatureFailure",
            "InvalidParameter",
        ] {
            let o = tencent_outcome(&reply(200, &error(code)));
            assert_eq!(o, Outcome::Permanent(format!("tencent {code}: m")));
            assert!(
                is_permanent(&tencent_outcome(&reply(200, &status(code)))),
                "{code}"
            );
        }
        assert!(is_transient(&tencent_outcome(&reply(502, "bad gateway"))));
        assert!(is_transient(&tencent_outcome(&reply(
            200,
            r#"{"Response":{}}"#
        ))));
        assert!(is_permanent(&tencent_outcome(&reply(403, "forbidden"))));
    }
}
