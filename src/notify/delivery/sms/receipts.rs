//! SMS delivery receipts (状态报告): whether the handset got the message, as each provider
//! reports it on `/hooks/sms/{provider}/receipts`, authenticated like the reply callbacks.
//!
//! - Aliyun SmsReport (HTTP 批量推送): a JSON array of `{phone_number, send_time, report_time,
//!   success, err_code, err_msg, sms_size, biz_id, out_id}`; `biz_id` is the `BizId` SendSms
//!   answered. Authenticated with `sms.inbound_token` (header, or an HMAC of the body).
//! - Tencent 短信下发状态回调: a JSON array of `{user_receive_time, nationcode, mobile,
//!   report_status (SUCCESS / FAIL), errmsg, description, sid}`; `sid` is the `SerialNo`.
//!   Authenticated as Aliyun's.
//! - Twilio `StatusCallback`: a form POST with `MessageSid`, `MessageStatus` (queued, sent,
//!   delivered, undelivered, failed …) and `ErrorCode`, signed with `X-Twilio-Signature`; only
//!   the final ones (delivered, read, undelivered, failed) are receipts.
//! - Fenghuo's webhook: `{"id", "status": "delivered" | "failed", "code"?, "at"? (RFC 3339)}` or
//!   a list, signed with `X-Fenghuo-Signature` like its replies; `id` is what the gateway
//!   answered at send (our `reference` when it answered none).
//!
//! A receipt is recorded on the delivery whose provider message id (stored at send as
//! `<provider>:<id>`) it names — or on the self-check (`canary`) sent with that id — once: the
//! first final receipt counts, except that a later "delivered" replaces a "failed". Receipts
//! are the provider's word about a delivery, kept on it like its outcome; they are not audited.

use axum::http::HeaderMap;
use serde_json::Value;

use crate::config::SmsConfig;
use crate::store::{Db, Result};

use super::inbound::{
    InboundError, check_inbound_secret, field, json_items, twilio_verified, webhook_verified,
};
use super::unix_now;

/// One receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's message id, as it answered the send.
    pub id: String,
    /// The handset got it.
    pub delivered: bool,
    /// The provider's status code (DELIVERED, DELIVRD, MK:0001, 30003 …).
    pub code: String,
    /// When it was delivered or given up, by the provider's clock (UTC ms), if it says.
    pub at: Option<i64>,
}

/// Parses and authenticates a provider's receipt callback (see [`super::inbound::parse_inbound`]
/// for `full_url` and `query_token`). Authentication comes before the body is read.
pub fn parse_receipts(
    cfg: &SmsConfig,
    provider: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
) -> std::result::Result<Vec<Receipt>, InboundError> {
    parse_at(
        cfg,
        provider,
        full_url,
        headers,
        body,
        query_token,
        unix_now(),
    )
}

fn parse_at(
    cfg: &SmsConfig,
    provider: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
    now: i64,
) -> std::result::Result<Vec<Receipt>, InboundError> {
    let items = match provider {
        "aliyun" | "tencent" => {
            check_inbound_secret(cfg, headers, body, query_token, now)?;
            json_items(body)?
        }
        "twilio" => {
            let params = twilio_verified(&cfg.twilio.auth_token, full_url, headers, body)?;
            return twilio(&params).map(|r| r.into_iter().collect());
        }
        "webhook" => {
            webhook_verified(cfg.webhook.secret.trim(), headers, body, now)?;
            json_items(body)?
        }
        other => {
            return Err(InboundError::BadRequest(format!(
                "unknown SMS provider '{other}'"
            )));
        }
    };
    let mut out = Vec::new();
    for item in &items {
        let receipt = match provider {
            "aliyun" => aliyun(item)?,
            "tencent" => tencent(item)?,
            _ => webhook(item)?,
        };
        out.extend(receipt);
    }
    Ok(out)
}

fn need(item: &Value, name: &str) -> std::result::Result<String, InboundError> {
    field(item, name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| InboundError::BadRequest(format!("missing field '{name}'")))
}

/// "2017-01-01 00:00:00" as the Chinese providers write it: Beijing time.
fn china_time(text: Option<String>) -> Option<i64> {
    let t = chrono::NaiveDateTime::parse_from_str(text?.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let beijing = chrono::FixedOffset::east_opt(8 * 3600)?;
    Some(t.and_local_timezone(beijing).single()?.timestamp_millis())
}

fn aliyun(item: &Value) -> std::result::Result<Option<Receipt>, InboundError> {
    let delivered = match item.get("success") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => return Err(InboundError::BadRequest("missing field 'success'".into())),
    };
    Ok(Some(Receipt {
        id: need(item, "biz_id")?,
        delivered,
        code: field(item, "err_code").unwrap_or_default(),
        at: china_time(field(item, "report_time")),
    }))
}

fn tencent(item: &Value) -> std::result::Result<Option<Receipt>, InboundError> {
    let status = need(item, "report_status")?;
    Ok(Some(Receipt {
        id: need(item, "sid")?,
        delivered: status.eq_ignore_ascii_case("SUCCESS"),
        code: field(item, "errmsg").unwrap_or_default(),
        at: china_time(field(item, "user_receive_time")),
    }))
}

fn twilio(params: &[(String, String)]) -> std::result::Result<Option<Receipt>, InboundError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let id = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or_else(|| InboundError::BadRequest("missing field 'MessageSid'".into()))?;
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or_else(|| InboundError::BadRequest("missing field 'MessageStatus'".into()))?;
    let delivered = match status.as_str() {
        "delivered" | "read" => true,
        "undelivered" | "failed" => false,
        // queued, sending, sent, accepted, scheduled: on its way, not a receipt yet.
        _ => return Ok(None),
    };
    Ok(Some(Receipt {
        id,
        delivered,
        code: get("ErrorCode").unwrap_or(status),
        at: None,
    }))
}

fn webhook(item: &Value) -> std::result::Result<Option<Receipt>, InboundError> {
    let status = need(item, "status")?;
    let delivered = match status.as_str() {
        "delivered" => true,
        "failed" | "undelivered" => false,
        _ => return Ok(None),
    };
    Ok(Some(Receipt {
        id: need(item, "id")?,
        delivered,
        code: field(item, "code").unwrap_or(status),
        at: field(item, "at").and_then(|t| crate::time::parse_rfc3339(&t)),
    }))
}

/// What a receipt callback changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Receipts in the callback.
    pub received: usize,
    /// Recorded on a delivery.
    pub deliveries: usize,
    /// Recorded on a daily self-check.
    pub canaries: usize,
    /// Matched nothing that waited for one (an unknown id, or a receipt already recorded).
    pub unmatched: usize,
}

/// Records receipts from `provider` on the deliveries (and self-checks) they name, in one
/// transaction. `now` stands in for a receipt's time when the provider gives none.
pub async fn record(db: &Db, provider: &str, receipts: &[Receipt], now: i64) -> Result<Recorded> {
    let mut r = Recorded {
        received: receipts.len(),
        ..Recorded::default()
    };
    if receipts.is_empty() {
        return Ok(r);
    }
    let mut tx = db.begin().await?;
    for x in receipts {
        let status = if x.delivered { "delivered" } else { "failed" };
        let code: String = x.code.chars().take(100).collect();
        let at = x.at.unwrap_or(now);
        let done = sqlx::query(
            "UPDATE deliveries SET receipt_status = $1, receipt_code = $2, receipt_at = $3 \
             WHERE provider_id = $4 AND channel = 'sms' \
             AND (receipt_status IS NULL OR (receipt_status = 'failed' AND $1 = 'delivered'))",
        )
        .bind(status)
        .bind(&code)
        .bind(at)
        .bind(format!("{provider}:{}", x.id))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done > 0 {
            r.deliveries += 1;
        } else if crate::notify::delivery::canary::receipt(
            &mut tx,
            provider,
            &x.id,
            x.delivered,
            &code,
            at,
        )
        .await?
        {
            r.canaries += 1;
        } else {
            r.unmatched += 1;
        }
    }
    tx.commit().await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::inbound::INBOUND_TOKEN_HEADER;
    use crate::notify::delivery::sms::inbound::twilio_request_signature;
    use crate::notify::delivery::sms::test_support::sms_config;
    use crate::notify::delivery::sms::webhook::{
        WEBHOOK_SIGNATURE_HEADER, webhook_signature_header,
    };
    use axum::http::HeaderValue;

    const NOW: i64 = 1_700_000_100;

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
        h
    }

    fn parse(
        provider: &str,
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<Vec<Receipt>, InboundError> {
        parse_at(&sms_config(), provider, url, headers, body, None, NOW)
    }

    #[test]
    fn aliyun_smsreport_as_documented() {
        // The example of Aliyun's SmsReport page, one delivered and one not.
        let body = r#"[{"phone_number":"1381111****","send_time":"2017-01-01 00:00:00",
            "report_time":"2017-01-01 00:00:00","success":true,"err_code":"DELIVERED",
            "err_msg":"用户接收成功","sms_size":"1","biz_id":"12345********","out_id":"67890**"},
            {"phone_number":"1381111****","send_time":"2017-01-01 00:00:00",
            "report_time":"2017-01-01 00:01:00","success":false,"err_code":"MK:0001",
            "err_msg":"用户接收失败","sms_size":"1","biz_id":"12346","out_id":"1"}]"#;
        let token = with(INBOUND_TOKEN_HEADER, "inbound-secret");
        let got = parse("aliyun", "", &token, body.as_bytes()).expect("parsed");
        assert_eq!(
            got,
            [
                Receipt {
                    id: "12345********".into(),
                    delivered: true,
                    code: "DELIVERED".into(),
                    // 2017-01-01 00:00:00 in Beijing is 2016-12-31 16:00 UTC.
                    at: Some(1_483_200_000_000),
                },
                Receipt {
                    id: "12346".into(),
                    delivered: false,
                    code: "MK:0001".into(),
                    at: Some(1_483_200_060_000),
                }
            ]
        );
        assert_eq!(
            parse(
                "aliyun",
                "",
                &with(INBOUND_TOKEN_HEADER, "wrong"),
                body.as_bytes()
            ),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            parse("aliyun", "", &HeaderMap::new(), body.as_bytes()),
            Err(InboundError::Unauthorized)
        );
        // Signed with the same secret instead of carrying it.
        let signed = with(
            WEBHOOK_SIGNATURE_HEADER,
            &webhook_signature_header("inbound-secret", NOW - 10, body.as_bytes()),
        );
        assert_eq!(
            parse("aliyun", "", &signed, body.as_bytes()).map(|r| r.len()),
            Ok(2)
        );
        let no_id = br#"[{"success":true,"err_code":"DELIVERED"}]"#;
        assert!(matches!(
            parse("aliyun", "", &token, no_id),
            Err(InboundError::BadRequest(m)) if m.contains("biz_id")
        ));
    }

    #[test]
    fn tencent_status_callback_as_documented() {
        let body = r#"[{"user_receive_time":"2015-10-17 08:03:04","nationcode":"86",
            "mobile":"13xxxxxxxxx","report_status":"SUCCESS","errmsg":"DELIVRD",
            "description":"用户短信送达成功","sid":"xxxxxxx"},
            {"user_receive_time":"2015-10-17 08:03:05","nationcode":"86","mobile":"13xxxxxxxxx",
            "report_status":"FAIL","errmsg":"MN:0017","description":"空号","sid":"yyy"}]"#;
        let token = with(INBOUND_TOKEN_HEADER, "inbound-secret");
        let got = parse("tencent", "", &token, body.as_bytes()).expect("parsed");
        assert_eq!(
            got.iter()
                .map(|r| (r.id.as_str(), r.delivered, r.code.as_str()))
                .collect::<Vec<_>>(),
            [("xxxxxxx", true, "DELIVRD"), ("yyy", false, "MN:0017")]
        );
        assert_eq!(got[0].at, Some(1_445_040_184_000));
        assert_eq!(
            parse("tencent", "", &HeaderMap::new(), body.as_bytes()),
            Err(InboundError::Unauthorized)
        );
    }

    fn twilio_form(url: &str, fields: &[(&str, &str)], token: &str) -> (HeaderMap, String) {
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let sig = twilio_request_signature(token, url, &pairs);
        (with("X-Twilio-Signature", &sig), body)
    }

    #[test]
    fn twilio_status_callback() {
        let url = "https://fenghuo.example/hooks/sms/twilio/receipts";
        let (h, body) = twilio_form(
            url,
            &[
                ("MessageSid", "SM0001"),
                ("MessageStatus", "undelivered"),
                ("ErrorCode", "30003"),
                ("AccountSid", "AC00000000000000000000000000000000"),
            ],
            "twilioToken",
        );
        assert_eq!(
            parse("twilio", url, &h, body.as_bytes()),
            Ok(vec![Receipt {
                id: "SM0001".into(),
                delivered: false,
                code: "30003".into(),
                at: None
            }])
        );
        // Not final yet: nothing to record.
        let (h, body) = twilio_form(
            url,
            &[("MessageSid", "SM0001"), ("MessageStatus", "sent")],
            "twilioToken",
        );
        assert_eq!(parse("twilio", url, &h, body.as_bytes()), Ok(vec![]));
        let (h, body) = twilio_form(
            url,
            &[("MessageSid", "SM0001"), ("MessageStatus", "delivered")],
            "wrong",
        );
        assert_eq!(
            parse("twilio", url, &h, body.as_bytes()),
            Err(InboundError::Unauthorized)
        );
    }

    #[test]
    fn webhook_receipts() {
        let body = br#"[{"id":"gw-1","status":"delivered","at":"2024-07-01T10:00:00+08:00"},
            {"id":"gw-2","status":"failed","code":"EXPIRED"},{"id":"gw-3","status":"queued"}]"#;
        let signed = with(
            WEBHOOK_SIGNATURE_HEADER,
            &webhook_signature_header("whsec", NOW, body),
        );
        let got = parse("webhook", "", &signed, body).expect("parsed");
        assert_eq!(
            got,
            [
                Receipt {
                    id: "gw-1".into(),
                    delivered: true,
                    code: "delivered".into(),
                    at: Some(1_719_799_200_000)
                },
                Receipt {
                    id: "gw-2".into(),
                    delivered: false,
                    code: "EXPIRED".into(),
                    at: None
                }
            ]
        );
        let stale = with(
            WEBHOOK_SIGNATURE_HEADER,
            &webhook_signature_header("whsec", NOW - 1000, body),
        );
        assert_eq!(
            parse("webhook", "", &stale, body),
            Err(InboundError::Unauthorized)
        );
        assert!(matches!(
            parse("pager", "", &signed, body),
            Err(InboundError::BadRequest(_))
        ));
    }
}
