//! Who is on duty at a moment: the one question escalation asks the roster.
//! The moment is the caller's (escalation's `now`), never the wall clock,
//! so tests drive it and a late tick still asks about the moment it stands
//! for. Read on the daemon's own (unscoped) connection inside the caller's
//! transaction.

use sqlx::AnyConnection;

use crate::notify::intake::alerts::ContactRow;
use crate::registry::roles::{DUTY_OFFICER, LEADER_ON_DUTY};
use crate::store::StoreError;

/// The two duties the roster decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// 应急办值班: the shift's duty officers, in their order.
    Officer,
    /// 带班领导: the shift's leader.
    Leader,
}

impl Duty {
    /// The duty a contact role names, if the roster decides it.
    pub fn of_role(role: &str) -> Option<Duty> {
        match role {
            DUTY_OFFICER => Some(Duty::Officer),
            LEADER_ON_DUTY => Some(Duty::Leader),
            _ => None,
        }
    }
    /// The contact role holders fall back to when the roster has a gap.
    pub fn role(self) -> &'static str {
        match self {
            Duty::Officer => DUTY_OFFICER,
            Duty::Leader => LEADER_ON_DUTY,
        }
    }
}

/// What the roster says about a duty at a moment.
#[derive(Debug, Clone, PartialEq)]
pub enum OnDuty {
    /// The shift covering the moment names these people for the duty
    /// (available ones only: not archived, not disabled), in call order.
    Shift {
        shift_id: i64,
        people: Vec<ContactRow>,
    },
    /// No shift covers the moment (`None`), or the one that does names nobody
    /// available for the duty: the caller falls back to the role's holders.
    Gap { shift_id: Option<i64> },
}

/// The roster of `township` at the moment `at`, for `duty`.
pub async fn on_duty(
    conn: &mut AnyConnection,
    township: i64,
    at: i64,
    duty: Duty,
) -> Result<OnDuty, StoreError> {
    let shift: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, leader_id FROM duty_shifts WHERE township_id = $1 AND archived_at IS NULL \
         AND starts_at <= $2 AND ends_at > $2 ORDER BY starts_at DESC, id DESC LIMIT 1",
    )
    .bind(township)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((shift_id, leader)) = shift else {
        return Ok(OnDuty::Gap { shift_id: None });
    };
    let people: Vec<ContactRow> = match duty {
        Duty::Leader => {
            sqlx::query_as(
                "SELECT id, name, phone, email, village_id, escalation_order FROM contacts \
             WHERE id = $1 AND archived_at IS NULL AND active = 1",
            )
            .bind(leader)
            .fetch_all(&mut *conn)
            .await?
        }
        Duty::Officer => {
            sqlx::query_as(
                "SELECT c.id, c.name, c.phone, c.email, c.village_id, c.escalation_order \
             FROM duty_shift_officers o JOIN contacts c ON c.id = o.contact_id \
             WHERE o.shift_id = $1 AND c.archived_at IS NULL AND c.active = 1 ORDER BY o.position",
            )
            .bind(shift_id)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    Ok(if people.is_empty() {
        OnDuty::Gap {
            shift_id: Some(shift_id),
        }
    } else {
        OnDuty::Shift { shift_id, people }
    })
}

/// The person a notice's escalation tells for a duty.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// The first of the shift's people for the duty not yet a recipient.
    Person { shift_id: i64, contact: ContactRow },
    /// The shift's people for the duty have all been told already: nobody
    /// more for this duty (the roster decides; holders of the role off
    /// shift are not woken).
    AllTold { shift_id: i64 },
    /// The roster has a gap: fall back to the role's holders.
    Gap { shift_id: Option<i64> },
}

/// For notice `alert`: who on the roster of `township` at `at` is next to be
/// told for `duty`.
pub async fn next_for_alert(
    conn: &mut AnyConnection,
    alert: i64,
    township: i64,
    at: i64,
    duty: Duty,
) -> Result<Pick, StoreError> {
    let (shift_id, people) = match on_duty(conn, township, at, duty).await? {
        OnDuty::Gap { shift_id } => return Ok(Pick::Gap { shift_id }),
        OnDuty::Shift { shift_id, people } => (shift_id, people),
    };
    // Only the shift's few people are looked up: a notice may have
    // thousands of recipients.
    let mut q = crate::store::Sql::new("SELECT contact_id FROM alert_recipients WHERE alert_id = ");
    q.bind(alert)
        .push(" AND contact_id IN ")
        .bind_list(people.iter().map(|p| p.0));
    let told: Vec<(i64,)> = q.query_as().fetch_all(&mut *conn).await?;
    match people
        .into_iter()
        .find(|p| !told.iter().any(|(t,)| *t == p.0))
    {
        Some(contact) => Ok(Pick::Person { shift_id, contact }),
        None => Ok(Pick::AllTold { shift_id }),
    }
}
