//! `--only excel`: the office's Excel in and out at township scale. A
//! 10,000-row sites workbook previewed and imported into an empty ledger
//! (`POST /api/v1/imports/sites…`), imported again (every row unchanged),
//! and the 10,000-site ledger exported (`GET /api/v1/sites.xlsx`); each
//! timed over loopback, each in a daemon started for it, so that its peak
//! resident memory is its own (what an earlier step left with the
//! allocator would otherwise count as this one's).

use std::time::Instant;

use rust_xlsxwriter::Workbook;
use serde_json::json;

use super::{BResult, Backend, Bench, Table, load, mb, ms, seed};
use fenghuo::auth::Role;
use fenghuo::store::Db;

pub const ROWS: usize = 10_000;

/// The workbook an office would bring: the ledger's columns, one site a row.
fn sites_workbook(n: usize) -> BResult<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let heads = [
        "单位名称",
        "类型",
        "统一社会信用代码",
        "所属村",
        "地址",
        "法定代表人",
        "安全负责人",
        "安全负责人电话",
        "许可证号",
        "发证日期",
        "有效期至",
        "核定储存量",
        "单位",
        "储存品种及最大储存量",
        "风险等级",
        "经度",
        "纬度",
    ];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..n {
        let body = format!("91350524MB{i:07}");
        let check = fenghuo::ledger::sites::credit_code_check(&body).ok_or("credit code")?;
        let r = i as u32 + 1;
        let cells = [
            format!("湖上基准单位{i:05}"),
            if i % 4 == 0 {
                "烟花爆竹零售"
            } else {
                "危化品经营（带储存）"
            }
            .to_string(),
            format!("{body}{check}"),
            "基准村".to_string(),
            format!("湖上乡基准村{}号", i + 1),
            "林建国".to_string(),
            "陈安全".to_string(),
            format!("139 {:04} {:04}", i / 10_000, i % 10_000),
            format!("(闽)WH〔2025〕{i:05}"),
            "2025-01-10".to_string(),
            "2026-12-31".to_string(),
            "30".to_string(),
            "吨".to_string(),
            "汽油 8006-61-9 UN1203 20吨；柴油 10吨".to_string(),
            "一般".to_string(),
            format!("{:.5}", 118.1 + (i % 100) as f64 * 0.0005),
            format!("{:.5}", 25.1 + (i / 100) as f64 * 0.0005),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(r, c as u16, v)?;
        }
    }
    Ok(wb.save_to_buffer()?)
}

impl Bench {
    pub(super) async fn excel(&mut self, b: Backend) -> BResult<()> {
        let url = self.new_database(b, "excel").await?;
        let db = Db::connect(&url, 4).await?;
        let (_, token) = fenghuo::auth::create_token(&db, "bench-excel", Role::Admin).await?;
        let d = self
            .start_daemon(&format!("excel-{}-0", b.name()), &url)
            .await?;
        let village = self
            .client
            .post(format!("{}/api/v1/villages", d.base))
            .bearer_auth(&token)
            .json(&json!({"code": "JZ", "name": "基准村", "boundary": seed::square(118.1, 25.1, 0.06)}))
            .send()
            .await?;
        if !village.status().is_success() {
            return Err(format!("bench village: {}", village.text().await?).into());
        }
        d.stop();
        let book = sites_workbook(ROWS)?;
        let mut t = Table::new(
            &format!(
                "Excel in and out on {} ({ROWS} sites; the workbook {:.1} MB; each step in a daemon started for it)",
                b.name(),
                book.len() as f64 / 1048576.0
            ),
            &["step", "ms", "daemon peak RSS MB", "answer", "load"],
        );
        let steps = [
            (
                "preview the import (nothing written)",
                Some("/api/v1/imports/sites/preview"),
            ),
            (
                "import into the empty ledger",
                Some("/api/v1/imports/sites"),
            ),
            (
                "import the same file again (all unchanged)",
                Some("/api/v1/imports/sites"),
            ),
            ("export the ledger (GET /sites.xlsx)", None),
        ];
        for (k, (what, path)) in steps.into_iter().enumerate() {
            let name = format!("excel-{}-{}", b.name(), k + 1);
            self.share_answer_key(&format!("excel-{}-0", b.name()), &name)?;
            let d = self.start_daemon(&name, &url).await?;
            d.reset_peak();
            let started = Instant::now();
            let answer = match path {
                Some(path) => {
                    let resp = self
                        .client
                        .post(format!("{}{path}", d.base))
                        .query(&[("file", "bench.xlsx")])
                        .bearer_auth(&token)
                        .header("content-type", "application/octet-stream")
                        .body(book.clone())
                        .send()
                        .await?;
                    let status = resp.status();
                    let v: serde_json::Value = resp.json().await.unwrap_or_default();
                    let c = &v["counts"];
                    format!(
                        "{status}: {} new, {} unchanged, {} refused",
                        c["create"], c["unchanged"], c["refused"]
                    )
                }
                None => {
                    let resp = self
                        .client
                        .get(format!("{}/api/v1/sites.xlsx", d.base))
                        .bearer_auth(&token)
                        .send()
                        .await?;
                    let status = resp.status();
                    let size = resp.bytes().await?.len();
                    format!("{status}: {:.1} MB", size as f64 / 1048576.0)
                }
            };
            let took = started.elapsed();
            let (_, peak) = d.rss();
            t.rows
                .push(vec![what.into(), ms(took), mb(peak), answer, load()]);
            d.stop();
        }
        self.emit(t);
        db.pool.close().await;
        Ok(())
    }
}
