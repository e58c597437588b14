use rampart::secure;

#[secure(get, path = "/notes", scope = "notes:read")]
struct ListNotes;

fn main() {}
