//! The security lockfile (`rampart.lock`) lists exactly what the compiled router mounts: this
//! test fails when an attribute or `rampart.toml` changed and the file was not refreshed
//! (`RAMPART_LOCK=write cargo test -p notes --test lock`), and shows that it does.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use rampart::EndpointInfo;
use rampart::contract::Registry;

const LOCKFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rampart.lock");

#[test]
fn rampart_lock_is_what_the_compiled_router_mounts() {
    if let Err(stale) = rampart::lock::check(&notes::inventory(), LOCKFILE) {
        panic!("{stale}");
    }
}

/// The inventory with one endpoint's contract changed by `change`.
fn changed(path: &str, change: impl Fn(&mut EndpointInfo)) -> Vec<&'static EndpointInfo> {
    notes::inventory()
        .into_iter()
        .map(|info| {
            if info.path != path {
                return info;
            }
            let mut copy = *info;
            change(&mut copy);
            &*Box::leak(Box::new(copy))
        })
        .collect()
}

/// What the freshness check says of `inventory` against the committed file (`None` while the
/// file is being written: then there is nothing to compare).
fn stale(inventory: &[&EndpointInfo]) -> Option<String> {
    if std::env::var_os(rampart::lock::WRITE_VARIABLE).is_some() {
        return None;
    }
    Some(rampart::lock::check(inventory, LOCKFILE).unwrap_err().to_string())
}

#[test]
fn a_changed_attribute_makes_the_lockfile_stale() {
    // What `rate = "1000/min"` instead of `rate = "10/min"` on `POST /notes` compiles to.
    let raised = changed("/notes", |info| {
        if let Some(rate) = &mut info.rate
            && info.method == rampart::Method::POST
        {
            rate.count = 1000;
        }
    });
    let Some(message) = stale(&raised) else { return };
    assert!(message.contains("+ rate = { count = 1000, period_secs = 60"), "{message}");
    assert!(message.contains("RAMPART_LOCK=write"), "{message}");
    // `#[public]` instead of `#[secure]` on `DELETE /notes/{id}`.
    let opened = changed("/notes/{id}", |info| {
        if info.method == rampart::Method::DELETE {
            info.access = rampart::Access::Public { reason: "oops" };
        }
    });
    let message = stale(&opened).unwrap_or_default();
    assert!(message.contains("+ reason = \"oops\""), "{message}");
}

#[test]
fn a_changed_registry_makes_the_lockfile_stale() {
    // What `[grants.note] member = "owner"` added to rampart.toml compiles to.
    let inventory = notes::inventory();
    let registry = inventory.iter().find_map(|info| info.registry).unwrap();
    let mut grants = registry.grants.to_vec();
    grants.push(("note", "member", "owner"));
    let widened: &'static Registry = Box::leak(Box::new(Registry { grants: grants.leak(), ..*registry }));
    let moved: Vec<&'static EndpointInfo> = inventory
        .iter()
        .map(|info| &*Box::leak(Box::new(EndpointInfo { registry: info.registry.map(|_| widened), ..**info })))
        .collect();
    let Some(message) = stale(&moved) else { return };
    assert!(message.contains("+ \"member\" = \"owner\""), "{message}");
}
