//! The roles a contact can hold. Stored by their Chinese name (what the office
//! writes in plans and sees on screen); English codes are accepted as aliases
//! so integrations need not send Chinese.

/// (stored name, English code, English label)
pub const ROLES: &[(&str, &str, &str)] = &[
    ("村支书", "party_secretary", "village party secretary"),
    ("村主任", "village_head", "village head"),
    ("网格员", "grid_worker", "grid worker"),
    ("护林员", "forest_ranger", "forest ranger"),
    ("信息员", "informant", "hazard informant"),
    // Asked for the flood season's daily report (值班报告) of their village.
    ("村值班员", "village_duty", "village duty contact"),
    ("应急办值班", "duty_officer", "township duty officer"),
    ("应急办主任", "office_head", "emergency office head"),
    (
        "乡党委书记",
        "township_secretary",
        "township party secretary",
    ),
    ("乡长", "township_head", "township head"),
    ("带班领导", "leader_on_duty", "leader on duty"),
    ("分管领导", "deputy_in_charge", "deputy in charge"),
    ("包村干部", "liaison_cadre", "village liaison cadre"),
    ("企业安全员", "safety_officer", "site safety officer"),
    ("山洪监测员", "flood_monitor", "flash-flood monitor"),
    // The county bureau's own staff (contacts of the county's row in
    // `townships`): whom a county plan's `report_to` names.
    (
        "县应急局值班员",
        "county_duty_officer",
        "county emergency bureau duty officer",
    ),
    (
        "县应急局带班领导",
        "county_leader_on_duty",
        "county emergency bureau leader on duty",
    ),
];

/// The canonical (stored) name for a role written in Chinese or English.
pub fn canonical(name: &str) -> Option<&'static str> {
    let n = name.trim();
    ROLES
        .iter()
        .find(|(zh, en, _)| *zh == n || *en == n)
        .map(|(zh, _, _)| *zh)
}

pub fn english(zh: &str) -> Option<&'static str> {
    ROLES
        .iter()
        .find(|(z, _, _)| *z == zh)
        .map(|(_, en, _)| *en)
}

/// The canonical names of roles as a request lists them under `field`, in
/// their order; the first unknown one is refused by its position
/// (`field[i]`) with the list of known roles.
pub fn canonical_all(
    field: &str,
    names: &[String],
) -> crate::validate::FieldResult<Vec<&'static str>> {
    names
        .iter()
        .enumerate()
        .map(|(i, r)| {
            canonical(r).ok_or_else(|| crate::validate::FieldError {
                field: format!("{field}[{i}]"),
                message: format!("unknown role '{r}'; known roles: {}", known_list()),
            })
        })
        .collect()
}

pub fn known_list() -> String {
    ROLES
        .iter()
        .map(|(zh, en, _)| format!("{zh} ({en})"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub const DUTY_OFFICER: &str = "应急办值班";
pub const LEADER_ON_DUTY: &str = "带班领导";
pub const SAFETY_OFFICER: &str = "企业安全员";

/// A contact role as a request names it (Chinese name or English code),
/// held as its stored Chinese name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactRole(&'static str);

impl ContactRole {
    pub fn parse(name: &str) -> Option<ContactRole> {
        canonical(name).map(ContactRole)
    }
    /// The stored (Chinese) name.
    pub fn name(self) -> &'static str {
        self.0
    }
    /// The refusal for a name that is no role, as every form and request reports it.
    pub fn unknown(name: &str) -> String {
        format!("unknown role '{name}'; known roles: {}", known_list())
    }
}

impl serde::Serialize for ContactRole {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ContactRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ContactRole::parse(&s).ok_or_else(|| serde::de::Error::custom(ContactRole::unknown(&s)))
    }
}

impl utoipa::PartialSchema for ContactRole {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let names = ROLES
            .iter()
            .flat_map(|(zh, en, _)| [*zh, *en])
            .collect::<Vec<_>>();
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names))
            .description(Some(
                "A contact role by its Chinese name or English code (stored as the Chinese name)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ContactRole {}

/// The roles named, with unknown names left out: for the daemon's own
/// constant lists (the demo township), never for a request.
pub fn known(names: &[&str]) -> Vec<ContactRole> {
    names.iter().filter_map(|n| ContactRole::parse(n)).collect()
}
