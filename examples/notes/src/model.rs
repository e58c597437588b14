//! What the API reads and answers, and what the store keeps.

use rampart::authz::Owned;
use rampart::crypto::Sealed;
use serde::{Deserialize, Serialize};

/// The body of `POST /notes`: lengths count characters, tags match `^[a-z0-9-]{1,32}$` whole.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    /// 1 to 120 characters, no control characters.
    #[garde(length(chars, min = 1, max = 120), custom(rampart::validate::no_control_chars))]
    #[schema(min_length = 1, max_length = 120)]
    pub title: String,
    /// Up to 10 000 characters; stored encrypted.
    #[serde(default)]
    #[garde(length(chars, max = 10_000))]
    #[schema(max_length = 10_000)]
    pub body: String,
    /// Up to 10 tags, each 1 to 32 of `a-z`, `0-9` and `-`.
    #[serde(default)]
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
    #[schema(max_items = 10)]
    pub tags: Vec<String>,
}

/// `GET /notes?limit=&cursor=`.
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

impl Owned for StoredNote {
    fn owner(&self) -> &str {
        &self.owner_key
    }
}
