//! Photos (照片) attached to an inspection (现场照片) or to a finding's
//! rectification (整改前 / 整改后). The bytes are kept under
//! `<data_dir>/photos/<2 hex>/<62 hex>.<ext>` by their SHA-256: written to a
//! temporary file, synced and renamed (never a half-written photo), once
//! however often the same picture is attached. A row is one attachment,
//! owned by the township of the inspection or finding, audited.
//!
//! Only JPEG, PNG, WebP and HEIC/HEIF are accepted, told by their first
//! bytes (never by the name or the type the sender claims), so an SVG or a
//! page is never stored, let alone served as an image.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;

use crate::auth::Actor;
use crate::store::{Db, Result, StoreError, WriteError, now_ms};
use crate::validate::optional_text;

/// What a photo shows: the scene of an inspection, or a finding before or
/// after its rectification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// 现场照片 (an inspection's)
    Scene,
    /// 整改前 (a finding's)
    Before,
    /// 整改后 (a finding's)
    After,
}

impl Tag {
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Scene => "scene",
            Tag::Before => "before",
            Tag::After => "after",
        }
    }
    pub fn parse(s: &str) -> Option<Tag> {
        match s.trim() {
            "scene" => Some(Tag::Scene),
            "before" => Some(Tag::Before),
            "after" => Some(Tag::After),
            _ => None,
        }
    }
    /// (中文, English)
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Tag::Scene => ("现场照片", "on site"),
            Tag::Before => ("整改前", "before rectification"),
            Tag::After => ("整改后", "after rectification"),
        }
    }
}

/// The record a photo is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Inspection(i64),
    Finding(i64),
}

impl Owner {
    pub fn kind(self) -> &'static str {
        match self {
            Owner::Inspection(_) => "inspection",
            Owner::Finding(_) => "finding",
        }
    }
    pub fn id(self) -> i64 {
        match self {
            Owner::Inspection(id) | Owner::Finding(id) => id,
        }
    }
}

/// An image type accepted, told by the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Webp,
    Heic,
    Heif,
}

impl ImageType {
    pub const ALL: [ImageType; 5] = [
        ImageType::Jpeg,
        ImageType::Png,
        ImageType::Webp,
        ImageType::Heic,
        ImageType::Heif,
    ];
    pub fn content_type(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Webp => "image/webp",
            ImageType::Heic => "image/heic",
            ImageType::Heif => "image/heif",
        }
    }
    pub fn ext(self) -> &'static str {
        match self {
            ImageType::Jpeg => "jpg",
            ImageType::Png => "png",
            ImageType::Webp => "webp",
            ImageType::Heic => "heic",
            ImageType::Heif => "heif",
        }
    }
    pub fn from_content_type(t: &str) -> Option<ImageType> {
        ImageType::ALL.into_iter().find(|i| i.content_type() == t)
    }
}

/// The image type of `bytes` by their magic numbers; `None` for anything
/// else (text, SVG, HTML, PDF, an executable…).
pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(ImageType::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(ImageType::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(ImageType::Webp);
    }
    // ISO base media: a `ftyp` box first, its major brand naming HEIF.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return match &bytes[8..12] {
            b"heic" | b"heix" | b"hevc" | b"hevx" => Some(ImageType::Heic),
            b"mif1" | b"msf1" | b"heim" | b"heis" => Some(ImageType::Heif),
            _ => None,
        };
    }
    None
}

/// Where photos are kept and how large one may be.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    dir: PathBuf,
    max_bytes: usize,
}

/// The sample photos of `serve --demo`, built into the binary (as the
/// sample plans are) and served from there: the demo writes no files.
const SAMPLES: [&[u8]; 3] = [
    include_bytes!("sample_photos/scene.png"),
    include_bytes!("sample_photos/before.png"),
    include_bytes!("sample_photos/after.png"),
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl PhotoStore {
    pub fn new(data_dir: &Path, max_bytes: usize) -> PhotoStore {
        PhotoStore {
            dir: data_dir.join("photos"),
            max_bytes,
        }
    }

    pub fn from_config(cfg: &crate::config::Config) -> PhotoStore {
        PhotoStore::new(&cfg.data_dir, cfg.limits.photo_bytes)
    }

    /// The largest photo accepted, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The directory holding the photos (`<data_dir>/photos`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a content; `None` for a hash that is not one.
    fn path_of(&self, sha: &str, ext: &str) -> Option<PathBuf> {
        is_sha256(sha).then(|| {
            self.dir
                .join(&sha[..2])
                .join(format!("{}.{ext}", &sha[2..]))
        })
    }

    /// Keeps `bytes` under their hash, unless a file of that hash is there
    /// already (a complete one: files only appear by rename).
    fn put(&self, sha: &str, ext: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self
            .path_of(sha, ext)
            .ok_or_else(|| std::io::Error::other("not a SHA-256"))?;
        if path.exists() {
            return Ok(());
        }
        let sub = path
            .parent()
            .ok_or_else(|| std::io::Error::other("no parent directory"))?;
        std::fs::create_dir_all(sub)?;
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = sub.join(format!(".{}.{}.tmp", &sha[2..], hex::encode(rnd)));
        let written = (|| {
            let mut f = std::fs::File::create_new(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        // The rename itself survives a power cut once the directory is synced.
        std::fs::File::open(sub)?.sync_all()
    }

    /// The bytes of a stored photo: its file, or a built-in sample's.
    pub async fn read(&self, photo: &PhotoView) -> std::io::Result<Vec<u8>> {
        let ext = ImageType::from_content_type(&photo.content_type)
            .map(ImageType::ext)
            .ok_or_else(|| std::io::Error::other("not an image type"))?;
        let path = self
            .path_of(&photo.sha256, ext)
            .ok_or_else(|| std::io::Error::other("not a SHA-256"))?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SAMPLES
                .iter()
                .find(|s| sha256_hex(s) == photo.sha256)
                .map(|s| s.to_vec())
                .ok_or(e),
            Err(e) => Err(e),
        }
    }
}

/// Why a photo was refused.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Over the configured size (413).
    #[error("the photo is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the photo was not stored: {0:?}")]
    Write(WriteError),
    #[error("cannot keep the photo's file: {0}")]
    File(#[from] std::io::Error),
}

impl From<WriteError> for PhotoError {
    fn from(e: WriteError) -> Self {
        PhotoError::Write(e)
    }
}

impl From<StoreError> for PhotoError {
    fn from(e: StoreError) -> Self {
        PhotoError::Write(e.into())
    }
}

impl From<sqlx::Error> for PhotoError {
    fn from(e: sqlx::Error) -> Self {
        PhotoError::Write(e.into())
    }
}

/// What comes with a photo's bytes.
#[derive(Debug, Clone, Default)]
pub struct PhotoInput {
    /// `scene` for an inspection (the default); `before` or `after` for a finding.
    pub tag: Option<Tag>,
    pub caption: Option<String>,
    /// The file's name as the phone or camera gave it (kept for the record).
    pub file_name: Option<String>,
    /// When it was taken (RFC 3339), if known.
    pub taken_at: Option<String>,
}

/// A photo as stored (times in UTC milliseconds). The bytes are at
/// `/photos/{id}` (dashboard) and `/api/v1/photos/{id}` (API).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PhotoView {
    pub id: i64,
    pub township_id: i64,
    pub site_id: i64,
    pub owner_kind: String,
    pub owner_id: i64,
    pub tag: String,
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub file_name: Option<String>,
    pub caption: Option<String>,
    pub taken_at: Option<i64>,
    pub uploaded_at: i64,
    pub uploaded_by: String,
    pub sample: i64,
}

const COLS: &str = "p.id, p.township_id, p.site_id, p.owner_kind, p.owner_id, p.tag, p.sha256, \
    p.content_type, p.size_bytes, p.file_name, p.caption, p.taken_at, p.uploaded_at, p.uploaded_by, p.sample";

impl PhotoView {
    pub fn tag(&self) -> Tag {
        Tag::parse(&self.tag).unwrap_or(Tag::Scene)
    }

    /// The API's form: times in the office's zone.
    pub fn api(&self, tz: chrono_tz::Tz) -> Photo {
        Photo {
            id: self.id,
            owner_kind: self.owner_kind.clone(),
            owner_id: self.owner_id,
            site_id: self.site_id,
            tag: self.tag(),
            content_type: self.content_type.clone(),
            size_bytes: self.size_bytes,
            sha256: self.sha256.clone(),
            file_name: self.file_name.clone(),
            caption: self.caption.clone(),
            taken_at: crate::time::fmt_opt(self.taken_at, tz),
            uploaded_at: crate::time::fmt_ms(self.uploaded_at, tz),
            uploaded_by: self.uploaded_by.clone(),
            url: format!("/api/v1/photos/{}", self.id),
            sample: self.sample != 0,
        }
    }
}

/// A photo in the API: what it shows and where its bytes are.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Photo {
    pub id: i64,
    /// `inspection` or `finding`.
    pub owner_kind: String,
    pub owner_id: i64,
    pub site_id: i64,
    pub tag: Tag,
    /// image/jpeg, image/png, image/webp, image/heic or image/heif.
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub file_name: Option<String>,
    pub caption: Option<String>,
    pub taken_at: Option<String>,
    pub uploaded_at: String,
    pub uploaded_by: String,
    /// The bytes (`GET`, same token).
    pub url: String,
    /// Sample data (`serve --demo`).
    pub sample: bool,
}

/// The owner's township and site, if the handle's scope covers it.
async fn owner_in_scope(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    owner: Owner,
) -> Result<Option<(i64, i64)>> {
    let table = match owner {
        Owner::Inspection(_) => "inspections",
        Owner::Finding(_) => "findings",
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT o.township_id, o.site_id FROM {table} o JOIN sites s ON s.id = o.site_id \
         WHERE o.id = $1 AND {} AND {}",
        db.township_filter("o.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(owner.id())
    .fetch_optional(conn)
    .await?)
}

/// Whether the inspection or finding is there for this handle's scope.
pub async fn owner_exists(db: &Db, owner: Owner) -> Result<bool> {
    let mut tx = db.read().await?;
    let found = owner_in_scope(db, &mut tx, owner).await?.is_some();
    tx.commit().await?;
    Ok(found)
}

/// What a photo page says about the record its photos are attached to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerSummary {
    pub site_id: i64,
    pub site_name: String,
    pub inspected_on: String,
    /// The inspectors as stored (a JSON list of names).
    pub inspectors: String,
    /// A finding's item (隐患), none for an inspection.
    pub item: Option<String>,
    /// A finding's status (open, rectified, closed).
    pub status: Option<String>,
    /// Whether the site is archived (no more uploads then).
    pub archived: i64,
}

impl OwnerSummary {
    pub fn inspector_names(&self) -> Vec<String> {
        serde_json::from_str(&self.inspectors).unwrap_or_default()
    }
}

/// The site and inspection (and finding) a photo page is about, if the
/// handle's scope covers it.
pub async fn owner_summary(db: &Db, owner: Owner) -> Result<Option<OwnerSummary>> {
    let (select, from) = match owner {
        Owner::Inspection(_) => (
            "CAST(NULL AS TEXT) AS item, CAST(NULL AS TEXT) AS status",
            "inspections i JOIN sites s ON s.id = i.site_id WHERE i.id = $1 AND ",
        ),
        Owner::Finding(_) => (
            "f.item, f.status",
            "findings f JOIN inspections i ON i.id = f.inspection_id JOIN sites s ON s.id = f.site_id \
             WHERE f.id = $1 AND ",
        ),
    };
    let mut tx = db.read().await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id AS site_id, s.name AS site_name, i.inspected_on, i.inspectors, {select}, \
         CAST(CASE WHEN s.archived_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS archived FROM {from}{} AND {}",
        db.township_filter("i.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(owner.id())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The file name as given, without any directory, control characters or
/// more than 120 characters; `None` when nothing is left.
fn clean_file_name(name: &Option<String>) -> Option<String> {
    let name = name.as_deref()?;
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// What is wrong with a photo, before anything is stored: its size (413),
/// its type, its tag, caption or time (422, naming the field).
pub fn check(
    store: &PhotoStore,
    owner: Owner,
    input: &PhotoInput,
    bytes: &[u8],
) -> Result<(ImageType, Tag, Option<String>, Option<i64>), PhotoError> {
    if bytes.len() > store.max_bytes {
        return Err(PhotoError::TooLarge(store.max_bytes));
    }
    if bytes.is_empty() {
        return Err(WriteError::field("photo", "choose a photo to upload").into());
    }
    let Some(kind) = sniff(bytes) else {
        return Err(WriteError::field(
            "photo",
            "must be a photo: a JPEG, PNG, WebP or HEIC image (照片须为 JPEG、PNG、WebP 或 HEIC 图片)",
        )
        .into());
    };
    let tag = match (owner, input.tag) {
        (Owner::Inspection(_), None | Some(Tag::Scene)) => Tag::Scene,
        (Owner::Inspection(_), Some(_)) => {
            return Err(WriteError::field(
                "tag",
                "an inspection's photos are photos of the scene (scene); before and after are a finding's",
            )
            .into());
        }
        (Owner::Finding(_), Some(t @ (Tag::Before | Tag::After))) => t,
        (Owner::Finding(_), _) => {
            return Err(WriteError::field(
                "tag",
                "say whether the photo is from before (before, 整改前) or after (after, 整改后) the rectification",
            )
            .into());
        }
    };
    let caption = optional_text("caption", &input.caption, 200).map_err(WriteError::from)?;
    let taken_at = match input.taken_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => {
            let ms = crate::time::parse_rfc3339(t).ok_or_else(|| {
                WriteError::field(
                    "taken_at",
                    "must be a time such as 2026-11-20T09:30:00+08:00",
                )
            })?;
            if ms > now_ms() + 24 * 3600 * 1000 {
                return Err(WriteError::field("taken_at", "cannot be in the future").into());
            }
            Some(ms)
        }
    };
    Ok((kind, tag, caption, taken_at))
}

/// Attaches a photo to an inspection or a finding: checked whole first
/// (nothing is written for a refused one), the file kept by its hash, then
/// the row and its audit entry in one transaction.
pub async fn add(
    db: &Db,
    store: &PhotoStore,
    actor: &Actor,
    owner: Owner,
    input: &PhotoInput,
    bytes: &[u8],
) -> Result<PhotoView, PhotoError> {
    let (kind, tag, caption, taken_at) = check(store, owner, input, bytes)?;
    if !owner_exists(db, owner).await? {
        return Err(WriteError::NotFound.into());
    }
    let sha = sha256_hex(bytes);
    {
        let (store, sha, bytes) = (store.clone(), sha.clone(), bytes.to_vec());
        tokio::task::spawn_blocking(move || store.put(&sha, kind.ext(), &bytes))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
    }
    let mut tx = db.begin().await?;
    let (township, site) = owner_in_scope(db, &mut tx, owner)
        .await?
        .ok_or(WriteError::NotFound)?;
    let photo = insert(
        &mut tx,
        township,
        site,
        owner,
        tag,
        &sha,
        kind,
        bytes.len(),
        clean_file_name(&input.file_name),
        caption,
        taken_at,
        &actor.name,
        false,
    )
    .await?;
    tx.commit().await?;
    Ok(photo)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    conn: &mut sqlx::AnyConnection,
    township: i64,
    site: i64,
    owner: Owner,
    tag: Tag,
    sha: &str,
    kind: ImageType,
    size: usize,
    file_name: Option<String>,
    caption: Option<String>,
    taken_at: Option<i64>,
    by: &str,
    sample: bool,
) -> Result<PhotoView> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO photos (township_id, site_id, owner_kind, owner_id, tag, sha256, content_type, size_bytes, \
         file_name, caption, taken_at, uploaded_at, uploaded_by, sample) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS TEXT), CAST($10 AS TEXT), CAST($11 AS BIGINT), $12, $13, $14) \
         RETURNING id",
    )
    .bind(township)
    .bind(site)
    .bind(owner.kind())
    .bind(owner.id())
    .bind(tag.as_str())
    .bind(sha)
    .bind(kind.content_type())
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(file_name)
    .bind(caption)
    .bind(taken_at)
    .bind(now_ms())
    .bind(by)
    .bind(i64::from(sample))
    .fetch_one(&mut *conn)
    .await?;
    let photo: PhotoView = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM photos p WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    crate::audit::record(
        conn,
        by,
        "create",
        "photo",
        Some(id),
        None,
        Some(&audit_json(&photo)),
    )
    .await?;
    Ok(photo)
}

/// What the audit trail keeps of a photo (not its bytes).
fn audit_json(p: &PhotoView) -> serde_json::Value {
    json!({
        "owner_kind": p.owner_kind,
        "owner_id": p.owner_id,
        "site_id": p.site_id,
        "tag": p.tag,
        "sha256": p.sha256,
        "content_type": p.content_type,
        "size_bytes": p.size_bytes,
        "file_name": p.file_name,
        "caption": p.caption,
        "taken_at": p.taken_at,
        "sample": p.sample != 0,
    })
}

/// The scope condition on a photo (its township, and for a village scope
/// its site's village); `p` and `s` are the photo and its site.
fn scoped(db: &Db) -> String {
    format!(
        "{} AND {}",
        db.township_filter("p.township_id"),
        db.village_filter("s.village_id")
    )
}

/// One photo, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<PhotoView>> {
    let mut tx = db.read().await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM photos p JOIN sites s ON s.id = p.site_id WHERE p.id = $1 AND {}",
        scoped(db)
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

async fn list_for(db: &Db, owner: Owner) -> Result<Vec<PhotoView>> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM photos p JOIN sites s ON s.id = p.site_id \
         WHERE p.owner_kind = $1 AND p.owner_id = $2 AND {} ORDER BY p.tag DESC, p.id",
        scoped(db)
    )))
    .bind(owner.kind())
    .bind(owner.id())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// An inspection's photos (现场照片), oldest first; none outside the scope.
pub async fn list_for_inspection(db: &Db, id: i64) -> Result<Vec<PhotoView>> {
    list_for(db, Owner::Inspection(id)).await
}

/// A finding's photos, those before the rectification first, then after;
/// none outside the scope.
pub async fn list_for_finding(db: &Db, id: i64) -> Result<Vec<PhotoView>> {
    list_for(db, Owner::Finding(id)).await
}

/// The photos a document of an inspection lists: the inspection's and its
/// findings' (before, then after), as they stood when it was issued
/// (uploaded at or before `until_ms`), so a later upload never changes an
/// issued document; none outside the scope.
pub async fn list_for_document(
    db: &Db,
    inspection_id: i64,
    until_ms: i64,
) -> Result<Vec<PhotoView>> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM photos p JOIN sites s ON s.id = p.site_id \
         WHERE ((p.owner_kind = 'inspection' AND p.owner_id = $1) \
             OR (p.owner_kind = 'finding' AND p.owner_id IN (SELECT id FROM findings WHERE inspection_id = $1))) \
           AND p.uploaded_at <= $2 AND {} ORDER BY p.owner_kind DESC, p.owner_id, p.tag DESC, p.id",
        scoped(db)
    )))
    .bind(inspection_id)
    .bind(until_ms)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// How many photos each inspection and finding of a site has, by
/// (owner kind, owner id).
pub async fn counts_for_site(db: &Db, site_id: i64) -> Result<HashMap<(String, i64), i64>> {
    let mut tx = db.read().await?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.owner_kind, p.owner_id, CAST(COUNT(*) AS BIGINT) FROM photos p JOIN sites s ON s.id = p.site_id \
         WHERE p.site_id = $1 AND {} GROUP BY p.owner_kind, p.owner_id",
        scoped(db)
    )))
    .bind(site_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(k, id, n)| ((k, id), n)).collect())
}

/// The demo's photos (built into the binary, no file written): the scene
/// of an inspection, and a finding before and after its rectification.
pub(crate) async fn load_samples(
    db: &Db,
    actor: &Actor,
    inspection: i64,
    finding: Option<i64>,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let mut attach = Vec::new();
    attach.push((
        Owner::Inspection(inspection),
        Tag::Scene,
        SAMPLES[0],
        "仓库外观及消防通道（示例照片）",
    ));
    if let Some(f) = finding {
        attach.push((
            Owner::Finding(f),
            Tag::Before,
            SAMPLES[1],
            "整改前：货物堆放堵塞安全出口（示例照片）",
        ));
        attach.push((
            Owner::Finding(f),
            Tag::After,
            SAMPLES[2],
            "整改后：通道已清空，增设灭火器（示例照片）",
        ));
    }
    for (owner, tag, bytes, caption) in attach {
        let Some((township, site)) = owner_in_scope(db, &mut tx, owner).await? else {
            continue;
        };
        let kind = sniff(bytes).ok_or_else(|| StoreError::Corrupt("sample photo".into()))?;
        insert(
            &mut tx,
            township,
            site,
            owner,
            tag,
            &sha256_hex(bytes),
            kind,
            bytes.len(),
            Some(format!("sample-{}.{}", tag.as_str(), kind.ext())),
            Some(caption.to_string()),
            None,
            &actor.name,
            true,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_their_first_bytes() {
        assert_eq!(sniff(SAMPLES[0]), Some(ImageType::Png));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some(ImageType::Heic));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"),
            None,
            "a video is no photo"
        );
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg/>"), None);
        assert_eq!(sniff(b"not a jpeg at all"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn a_file_name_keeps_only_its_name() {
        let n = |s: &str| clean_file_name(&Some(s.to_string()));
        assert_eq!(n("../../etc/passwd"), Some("passwd".into()));
        assert_eq!(
            n("C:\\Users\\me\\IMG_0001.JPG"),
            Some("IMG_0001.JPG".into())
        );
        assert_eq!(n("a\u{0}b\nc.jpg"), Some("abc.jpg".into()));
        assert_eq!(n("dir/"), None);
    }

    #[test]
    fn a_photo_is_kept_once_by_its_hash() {
        let dir = tempfile_dir();
        let store = PhotoStore::new(&dir, 1000);
        let sha = sha256_hex(SAMPLES[1]);
        store.put(&sha, "png", SAMPLES[1]).expect("put");
        store.put(&sha, "png", SAMPLES[1]).expect("again");
        let sub = dir.join("photos").join(&sha[..2]);
        let files: Vec<_> = std::fs::read_dir(&sub).expect("dir").collect();
        assert_eq!(files.len(), 1, "one file, no temporary left");
        assert_eq!(
            std::fs::read(sub.join(format!("{}.png", &sha[2..]))).expect("read"),
            SAMPLES[1]
        );
        assert!(store.path_of("../../x", "png").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).expect("random");
        std::env::temp_dir().join(format!("fenghuo-photos-{}", hex::encode(rnd)))
    }
}
