//! What the API reads and answers, and what the store keeps.

use rampart::authz::Resource;
use rampart::crypto::Sealed;
use serde::{Deserialize, Serialize};

/// The body of `POST /notes`: lengths count characters, tags match `^[a-z0-9-]{1,32}$` whole.
#[rampart::schema_rules]
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    /// 1 to 120 characters, no control characters.
    #[garde(length(chars, min = 1, max = 120), custom(rampart::validate::no_control_chars))]
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub title: String,
    /// Up to 10 000 characters; stored encrypted.
    #[serde(default)]
    #[garde(length(chars, max = 10_000))]
    pub body: String,
    /// Up to 10 tags, each 1 to 32 of `a-z`, `0-9` and `-`.
    #[serde(default)]
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
    pub tags: Vec<String>,
}

/// `GET /notes?limit=&cursor=&shared=`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// How many notes per page: 1 to 100 (default 20).
    #[garde(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Where the page starts: the `next_cursor` of the previous page.
    #[garde(length(min = 1, max = 20), pattern(r"^[0-9]+$"))]
    #[param(pattern = r"^[0-9]{1,20}$")]
    pub cursor: Option<String>,
    /// `true`: the notes others shared with the caller, instead of the caller's own.
    #[garde(skip)]
    pub shared: Option<bool>,
}

/// A note as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Note {
    /// The note's id (random, below 2^53).
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The `sub` of its owner.
    pub owner: String,
    /// Creation time, in seconds since the Unix epoch.
    pub created_at: i64,
}

/// A page of the caller's notes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoteList {
    /// The notes of this page.
    pub items: Vec<Note>,
    /// Where the next page starts; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A note as stored; the body stays sealed until it is answered.
#[derive(Debug, Clone)]
pub struct StoredNote {
    /// The note's id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Its sealed body.
    pub body: Sealed<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The owner's `sub`, as shown.
    pub owner_name: String,
    /// The owner's qualified subject (issuer or key scheme included): what ownership compares.
    pub owner_key: String,
    /// Creation time, in seconds since the Unix epoch.
    pub created_at: i64,
}

/// A note is the resource of `note#...` relations (`rampart.toml`): `note:<id>`, owned by its
/// creator.
impl Resource for StoredNote {
    fn id(&self) -> String {
        self.id.to_string()
    }

    fn owner(&self) -> Option<&str> {
        Some(&self.owner_key)
    }
}

/// The body of `PATCH /notes/{id}`: the fields to change, each under the rules of `POST /notes`.
#[rampart::schema_rules]
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNote {
    /// 1 to 120 characters, no control characters.
    #[garde(length(chars, min = 1, max = 120), custom(no_control_chars))]
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub title: Option<String>,
    /// Up to 10 000 characters; stored encrypted.
    #[garde(length(chars, max = 10_000))]
    pub body: Option<String>,
    /// Up to 10 tags, each 1 to 32 of `a-z`, `0-9` and `-`.
    #[garde(length(max = 10), inner(inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$"))))]
    pub tags: Option<Vec<String>>,
}

fn no_control_chars(value: &Option<String>, context: &()) -> garde::Result {
    value.as_deref().map_or(Ok(()), |value| rampart::validate::no_control_chars(value, context))
}

/// What a share grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShareRelation {
    /// May read the note.
    Viewer,
    /// May read and change the note.
    Editor,
}

impl ShareRelation {
    /// The relation's name in `rampart.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareRelation::Viewer => "viewer",
            ShareRelation::Editor => "editor",
        }
    }
}

/// The path of `DELETE /notes/{id}/shares/{subject}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ShareKey {
    /// The note's id.
    pub id: i64,
    /// The `sub` of the user the note is shared with.
    pub subject: String,
}

/// The body of `POST /notes/{id}/shares`.
#[rampart::schema_rules]
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// The `sub` of a user of the note owner's issuer (no control characters but tab, line feed
    /// and carriage return, as `rampart::validate::no_control_chars` checks).
    #[garde(length(chars, min = 1, max = 255), custom(rampart::validate::no_control_chars))]
    #[schema(pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub subject: String,
    /// `viewer` or `editor`.
    #[garde(skip)]
    pub relation: ShareRelation,
}
