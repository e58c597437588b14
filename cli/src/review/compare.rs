//! Two revisions' contracts compared: endpoints paired by handler, every difference judged
//! (loosens or informs), the registry, the audit's findings and its allow markers.

use std::collections::{BTreeMap, BTreeSet};

use super::snapshot::{Access, Endpoint, Rate, Snapshot};
use super::*;

/// Pairs the endpoints of two revisions: by handler, method and path; then by handler alone;
/// then by the handler's bare name; then by method and path with the placeholders' names erased
/// (`/orders/{id}` is `/orders/{order}`). A key pairs only when it is unique on both sides.
pub(super) fn pair(before: &[Endpoint], after: &[Endpoint]) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    fn shape(path: &str) -> String {
        path.split('/')
            .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    }
    let keys: [fn(&Endpoint) -> String; 4] = [
        |e| format!("{} {} {}", e.handler, e.method, e.path),
        |e| e.handler.clone(),
        |e| e.bare_handler().to_owned(),
        |e| format!("{} {}", e.method, shape(&e.path)),
    ];
    let mut old_free: BTreeSet<usize> = (0..before.len()).collect();
    let mut new_free: BTreeSet<usize> = (0..after.len()).collect();
    let mut pairs = Vec::new();
    for key in keys {
        let group = |side: &[Endpoint], free: &BTreeSet<usize>| {
            let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &index in free {
                by.entry(key(&side[index])).or_default().push(index);
            }
            by
        };
        let (old, new) = (group(before, &old_free), group(after, &new_free));
        for (name, olds) in &old {
            if let (Some(news), [one]) = (new.get(name), olds.as_slice())
                && let [other] = news.as_slice()
            {
                pairs.push((*one, *other));
                old_free.remove(one);
                new_free.remove(other);
            }
        }
    }
    pairs.sort_unstable();
    (pairs, old_free.into_iter().collect(), new_free.into_iter().collect())
}

struct Differ<'a> {
    after: &'a Snapshot,
    review: &'a mut Review,
}

impl Differ<'_> {
    fn push(
        &mut self,
        (rule, effect): (ReviewRule, Effect),
        at: &Endpoint,
        message: String,
        before: Option<String>,
        after: Option<String>,
    ) {
        self.review.changes.push(Change {
            rule,
            effect,
            endpoint: Some(at.name()),
            message,
            before,
            after,
            file: at.location.0.clone(),
            line: at.location.1,
            accepted: None,
        });
    }

    fn endpoint(&mut self, old: &Endpoint, new: &Endpoint) {
        let name = new.name();
        if old.name() != name || old.status != new.status {
            let message = if old.name() == name {
                format!("`{name}` answers {} instead of {}", new.status, old.status)
            } else {
                format!("`{}` is now `{name}` (the same handler, `{}`)", old.name(), new.bare_handler())
            };
            let (was, is) = (format!("{} -> {}", old.name(), old.status), format!("{name} -> {}", new.status));
            self.push((ROUTE_CHANGED, Effect::Info), new, message, Some(was), Some(is));
        }
        match (old.access, new.access) {
            (Access::Secure, Access::Public) => {
                let message = format!("`{name}` became #[public]: {}", new.reason.as_deref().unwrap_or_default());
                self.push(
                    (BECAME_PUBLIC, Effect::Loosens),
                    new,
                    message,
                    Some(old.contract_line()),
                    Some(new.contract_line()),
                );
            }
            (Access::Public, Access::Secure) => {
                let message = format!("`{name}` is no longer public");
                self.push(
                    (POLICY_TIGHTENED, Effect::Info),
                    new,
                    message,
                    Some(old.contract_line()),
                    Some(new.contract_line()),
                );
            }
            (Access::Public, Access::Public) if old.reason != new.reason => {
                let message = format!("the reason `{name}` is public changed");
                self.push((PUBLIC_REASON_CHANGED, Effect::Info), new, message, old.reason.clone(), new.reason.clone());
            }
            (Access::Secure, Access::Secure) => {
                self.policy(&name, old, new);
                self.credentials(&name, old, new);
            }
            _ => {}
        }
        self.limits(&name, old, new);
        self.resource(&name, old, new);
    }

    fn policy(&mut self, name: &str, old: &Endpoint, new: &Endpoint) {
        let items = |policy: &Option<String>| match policy.as_deref() {
            None | Some("authenticated") => Vec::new(),
            Some(text) => vec![text.to_owned()],
        };
        let (was, is) = (items(&old.policy), items(&new.policy));
        // A policy that cannot be read loosens when it changed at all: the reviewer decides.
        let change = policy::compare(&was, &is).unwrap_or(if was == is {
            policy::Change::Same
        } else {
            policy::Change::Loosened
        });
        let verdict = match change {
            policy::Change::Loosened => Some((POLICY_LOOSENED, Effect::Loosens, "loosened")),
            policy::Change::Tightened => Some((POLICY_TIGHTENED, Effect::Info, "tightened")),
            policy::Change::Same => None,
        };
        if let Some((rule, effect, what)) = verdict {
            let message = format!("the policy of `{name}` {what}");
            self.push((rule, effect), new, message, old.policy.clone(), new.policy.clone());
        }
    }

    fn credentials(&mut self, name: &str, old: &Endpoint, new: &Endpoint) {
        let (was, is) = (old.auth.clone().unwrap_or_default(), new.auth.clone().unwrap_or_default());
        if was == is {
            return;
        }
        let shown = |set: &BTreeSet<String>| Some(set.iter().cloned().collect::<Vec<_>>().join(", "));
        let added: Vec<&String> = is.difference(&was).collect();
        let removed: Vec<&String> = was.difference(&is).collect();
        let (rule, message) = if added.is_empty() {
            let list = removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            ((POLICY_TIGHTENED, Effect::Info), format!("`{name}` no longer accepts {list} (`auth`)"))
        } else {
            let list = added.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            ((POLICY_LOOSENED, Effect::Loosens), format!("`{name}` now also accepts {list} (`auth`)"))
        };
        self.push(rule, new, message, shown(&was), shown(&is));
    }

    fn limits(&mut self, name: &str, old: &Endpoint, new: &Endpoint) {
        let show_rate = |rate: &Option<Rate>| {
            rate.as_ref().map(|r| format!("{}/{}s burst {} per {}", r.count, r.period_secs, r.burst, r.key))
        };
        match (&old.rate, &new.rate) {
            (Some(_), None) => {
                let message = format!("the rate limit of `{name}` was removed");
                self.push((LIMIT_LOOSENED, Effect::Loosens), new, message, show_rate(&old.rate), None);
            }
            (None, Some(_)) => {
                let message = format!("`{name}` got a rate limit");
                self.push((LIMIT_TIGHTENED, Effect::Info), new, message, None, show_rate(&new.rate));
            }
            (Some(a), Some(b)) => {
                // Requests per period compared as rates: count / period, without rounding.
                let (was, is) =
                    (u128::from(a.count) * u128::from(b.period_secs), u128::from(b.count) * u128::from(a.period_secs));
                if is != was || a.burst != b.burst {
                    let raised = is > was || b.burst > a.burst;
                    let (rule, verb) = if raised {
                        ((LIMIT_LOOSENED, Effect::Loosens), "raised")
                    } else {
                        ((LIMIT_TIGHTENED, Effect::Info), "lowered")
                    };
                    let message = format!("the rate limit of `{name}` was {verb}");
                    self.push(rule, new, message, show_rate(&old.rate), show_rate(&new.rate));
                }
                // A route made public is counted per address by nature (said by REVIEW003).
                if a.key != b.key && old.access == new.access {
                    let effect = if rate_key_widens(&a.key, &b.key) { Effect::Loosens } else { Effect::Info };
                    let message =
                        format!("the rate limit of `{name}` is counted per `{}` instead of `{}`", b.key, a.key);
                    self.push((RATE_KEY_CHANGED, effect), new, message, Some(a.key.clone()), Some(b.key.clone()));
                }
            }
            (None, None) => {}
        }
        if old.body_limit != new.body_limit {
            let (rule, verb) = if new.body_limit > old.body_limit {
                ((LIMIT_LOOSENED, Effect::Loosens), "raised")
            } else {
                ((LIMIT_TIGHTENED, Effect::Info), "lowered")
            };
            let message = format!("the body limit of `{name}` was {verb}");
            self.push(rule, new, message, Some(old.body_limit.to_string()), Some(new.body_limit.to_string()));
        }
        if old.validate != new.validate {
            let (rule, message) = if new.validate {
                ((LIMIT_TIGHTENED, Effect::Info), format!("`{name}` validates its body again"))
            } else {
                (
                    (LIMIT_LOOSENED, Effect::Loosens),
                    format!("`{name}` no longer validates its body (`validate = false`)"),
                )
            };
            self.push(rule, new, message, Some(old.validate.to_string()), Some(new.validate.to_string()));
        }
        if old.timeout_ms != new.timeout_ms {
            let show = |ms: Option<u64>| Some(ms.map_or_else(|| "the service's".to_owned(), |ms| format!("{ms} ms")));
            // Back to the service's deadline: longer or not, the route no longer bounds itself.
            let longer = match (old.timeout_ms, new.timeout_ms) {
                (Some(a), Some(b)) => b > a,
                (Some(_), None) => true,
                _ => false,
            };
            let (rule, verb) = if longer {
                ((LIMIT_LOOSENED, Effect::Loosens), "longer")
            } else {
                ((LIMIT_TIGHTENED, Effect::Info), "shorter")
            };
            let message = format!("the handler deadline of `{name}` is {verb}");
            self.push(rule, new, message, show(old.timeout_ms), show(new.timeout_ms));
        }
    }

    fn resource(&mut self, name: &str, old: &Endpoint, new: &Endpoint) {
        for (key, was, is) in [
            ("load", &old.load, &new.load),
            ("owner", &old.owner, &new.owner),
            ("relation", &old.relation, &new.relation),
        ] {
            if was.is_none() || was == is {
                continue;
            }
            let Some(is_value) = is else {
                let message = format!("`{name}` no longer checks its resource's `{key}`");
                self.push((RESOURCE_CHECK_CHANGED, Effect::Loosens), new, message, was.clone(), None);
                continue;
            };
            // A relation fewer relations grant (`viewer` -> `editor`) tightens; anything else may loosen.
            let registry = &self.after.registry;
            let narrower = key == "relation"
                && was.as_deref().and_then(|was| registry.qualify(was)).zip(registry.qualify(is_value)).is_some_and(
                    |((kind_a, a), (kind_b, b))| {
                        kind_a == kind_b
                            && registry
                                .granted_by(&kind_a, &a)
                                .zip(registry.granted_by(&kind_b, &b))
                                .is_some_and(|(before, after)| after.is_subset(&before))
                    },
                );
            let (effect, verb) = if narrower { (Effect::Info, "narrowed") } else { (Effect::Loosens, "changed") };
            let message = format!("the `{key}` check of `{name}` {verb}");
            self.push((RESOURCE_CHECK_CHANGED, effect), new, message, was.clone(), is.clone());
        }
    }
}

/// Whether counting per `to` instead of `from` gives a caller more requests: `client` ⊇ `sub` ⊇
/// `api_key` from coarse to fine; `ip` counts something else entirely (a caller with many
/// addresses, or many callers behind one), so a change to or from it loosens.
fn rate_key_widens(from: &str, to: &str) -> bool {
    let rank = |key: &str| match key {
        "client" => Some(0),
        "sub" => Some(1),
        "api_key" => Some(2),
        _ => None,
    };
    match (rank(from), rank(to)) {
        (Some(a), Some(b)) => b > a,
        _ => true,
    }
}

pub(super) fn compare(before: &Snapshot, after: &Snapshot, review: &mut Review) {
    let mut differ = Differ { after, review };
    let (pairs, removed, added) = pair(&before.endpoints, &after.endpoints);
    for (old, new) in &pairs {
        differ.endpoint(&before.endpoints[*old], &after.endpoints[*new]);
    }
    for index in added {
        let new = &after.endpoints[index];
        let message = format!("`{}` was added: {}", new.name(), new.contract_line());
        differ.push((ENDPOINT_ADDED, Effect::Loosens), new, message, None, Some(new.contract_line()));
    }
    for index in removed {
        let old = &before.endpoints[index];
        let message = format!("`{}` was removed", old.name());
        let mut at = old.clone();
        at.location = ("rampart.toml".to_owned(), 1);
        if let Some(file) = after.sources.keys().find(|file| **file == old.location.0) {
            at.location = (file.clone(), 1);
        }
        differ.push((ENDPOINT_REMOVED, Effect::Info), &at, message, Some(old.contract_line()), None);
    }
    for (file, line, handler, message) in &after.unreadable {
        differ.review.changes.push(Change {
            rule: NOT_READABLE,
            effect: Effect::Loosens,
            endpoint: None,
            message: format!("the attribute of `{handler}` does not read as the compiler reads it: {message}"),
            before: None,
            after: None,
            file: file.clone(),
            line: *line,
            accepted: None,
        });
    }
    findings(before, after, differ.review);
    registry(before, after, differ.review);
    accept_and_summarize(before, after, differ.review);
}

/// New audit findings and new allow markers.
fn findings(before: &Snapshot, after: &Snapshot, review: &mut Review) {
    let known: BTreeSet<&str> = before.audit.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    for finding in after.audit.findings.iter().filter(|f| !known.contains(f.fingerprint.as_str())) {
        review.changes.push(Change {
            rule: AUDIT_FINDING_ADDED,
            effect: Effect::Loosens,
            endpoint: None,
            message: format!("new {}: {}", finding.rule.id, finding.message),
            before: None,
            after: None,
            file: finding.file.clone(),
            line: finding.line,
            accepted: None,
        });
    }
    let markers: BTreeSet<(&str, &str)> =
        before.audit.suppressions.iter().map(|s| (s.file.as_str(), s.text.as_str())).collect();
    for marker in after.audit.suppressions.iter().filter(|s| !markers.contains(&(s.file.as_str(), s.text.as_str()))) {
        let honoured = if marker.reason.is_some() { "" } else { " (it has no reason, so it silences nothing)" };
        review.changes.push(Change {
            rule: SUPPRESSION_ADDED,
            effect: Effect::Loosens,
            endpoint: None,
            message: format!("a new audit suppression: `{}`{honoured}", marker.text),
            before: None,
            after: None,
            file: marker.file.clone(),
            line: marker.line,
            accepted: None,
        });
    }
}

/// `rampart.toml`: declarations added and removed, relations and grants widened.
fn registry(before: &Snapshot, after: &Snapshot, review: &mut Review) {
    let (was, is) = (&before.registry, &after.registry);
    let toml = after.sources.get("rampart.toml").cloned().unwrap_or_default();
    // Named by an endpoint at the head, or by one of the base's that the head still has (whose
    // attribute may no longer read without the declaration).
    let still_there = |handler: &str| {
        after.endpoints.iter().any(|e| e.bare_handler() == handler)
            || after.unreadable.iter().any(|(_, _, name, _)| name == handler)
    };
    let named = |kind: &str, name: &str| {
        let needle = format!("{kind} = {name:?}");
        let names = |e: &Endpoint| e.policy.as_deref().is_some_and(|p| p.contains(&needle));
        after.endpoints.iter().any(names) || before.endpoints.iter().any(|e| names(e) && still_there(e.bare_handler()))
    };
    for (kind, old, new) in [("scope", &was.scopes, &is.scopes), ("role", &was.roles, &is.roles)] {
        for removed in old.difference(new) {
            let message = format!("{kind} `{removed}` removed from rampart.toml");
            let change = if named(kind, removed) {
                let message = format!("{message}, but an endpoint still names it");
                registry_change(DECLARATION_REMOVED, Effect::Loosens, message, 1)
            } else {
                registry_change(REGISTRY_CHANGED, Effect::Info, message, 1)
            };
            review.changes.push(change);
        }
        for added in new.difference(old) {
            let message = format!("{kind} `{added}` added to rampart.toml");
            review.changes.push(registry_change(REGISTRY_CHANGED, Effect::Info, message, declared_at(&toml, added)));
        }
    }
    for (kind, relations) in &is.relations {
        for relation in relations.keys() {
            let qualified = format!("{kind}#{relation}");
            let line = declared_at(&toml, &qualified);
            let Some(before) = was.granted_by(kind, relation) else {
                let message = format!("relation `{qualified}` added to rampart.toml");
                review.changes.push(registry_change(REGISTRY_CHANGED, Effect::Info, message, line));
                continue;
            };
            let now = is.granted_by(kind, relation).unwrap_or_default();
            let wider: Vec<&String> = now.difference(&before).collect();
            if !wider.is_empty() {
                let list = wider.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ");
                let message = format!("`{qualified}` is now also held by whoever holds {list}");
                let mut change = registry_change(RELATION_WIDENED, Effect::Loosens, message, line);
                change.before = Some(before.iter().cloned().collect::<Vec<_>>().join(", "));
                change.after = Some(now.iter().cloned().collect::<Vec<_>>().join(", "));
                review.changes.push(change);
            } else if now != before {
                let message = format!("`{qualified}` is held through fewer relations");
                review.changes.push(registry_change(REGISTRY_CHANGED, Effect::Info, message, line));
            } else if was.relations.get(kind).and_then(|r| r.get(relation)) != Some(&relations[relation]) {
                let direct = relations[relation].iter().cloned().collect::<Vec<_>>().join(", ");
                let message = format!("`{qualified}` is implied directly by [{direct}]; the same relations hold it");
                review.changes.push(registry_change(REGISTRY_CHANGED, Effect::Info, message, line));
            }
        }
    }
    for (kind, relations) in &was.relations {
        for relation in relations.keys().filter(|r| is.relations.get(kind).is_none_or(|now| !now.contains_key(*r))) {
            let message = format!("relation `{kind}#{relation}` removed from rampart.toml");
            review.changes.push(registry_change(REGISTRY_CHANGED, Effect::Info, message, 1));
        }
    }
    for (kind, grants) in &is.grants {
        for (role, relation) in grants {
            let line = declared_at(&toml, &format!("{kind}#{role}"));
            let gives = is.grants_of(kind, relation);
            match was.grants.get(kind).and_then(|old| old.get(role)) {
                None => {
                    let message =
                        format!("role `{role}` now holds `{kind}#{relation}` on every {kind} (`[grants.{kind}]`)");
                    let mut change = registry_change(GRANT_WIDENED, Effect::Loosens, message, line);
                    change.after = Some(format!("{role} = {relation}"));
                    review.changes.push(change);
                }
                Some(old) if old != relation => {
                    let gave = was.grants_of(kind, old);
                    let (rule, effect, verb) = if gives.is_subset(&gave) {
                        (REGISTRY_CHANGED, Effect::Info, "narrowed")
                    } else {
                        (GRANT_WIDENED, Effect::Loosens, "widened")
                    };
                    let message = format!("the grant of role `{role}` on every {kind} {verb}");
                    let mut change = registry_change(rule, effect, message, line);
                    change.before = Some(format!("{role} = {old}"));
                    change.after = Some(format!("{role} = {relation}"));
                    review.changes.push(change);
                }
                Some(_) => {}
            }
        }
    }
    for (kind, grants) in &was.grants {
        for role in grants.keys().filter(|role| is.grants.get(kind).is_none_or(|now| !now.contains_key(*role))) {
            let message = format!("role `{role}` no longer holds a relation on every {kind}");
            review.changes.push(registry_change(REGISTRY_CHANGED, Effect::Info, message, 1));
        }
    }
}

/// Acceptances read at the head, the table of contracts, the order.
fn accept_and_summarize(before: &Snapshot, after: &Snapshot, review: &mut Review) {
    for change in &mut review.changes {
        if let Some(text) = after.sources.get(&change.file) {
            match acceptance(text, change.line, change.rule.id) {
                Acceptance::Accepted(reason) => change.accepted = Some(reason),
                Acceptance::WithoutReason if change.effect == Effect::Loosens => change.message.push_str(&format!(
                    " (`accept({})` here has no reason and is ignored: write why after it)",
                    change.rule.id
                )),
                Acceptance::WithoutReason | Acceptance::None => {}
            }
        }
    }
    let line =
        |endpoints: &[Endpoint], name: &str| endpoints.iter().find(|e| e.name() == name).map(Endpoint::contract_line);
    let mut contracts: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for change in &review.changes {
        if let Some(endpoint) = &change.endpoint {
            contracts.insert(endpoint.clone(), (line(&before.endpoints, endpoint), line(&after.endpoints, endpoint)));
        }
    }
    review.contracts = contracts.into_iter().map(|(k, (b, a))| (k, b, a)).collect();
    review.changes.sort_by(|a, b| (&a.file, a.line, a.rule.id).cmp(&(&b.file, b.line, b.rule.id)));
}
