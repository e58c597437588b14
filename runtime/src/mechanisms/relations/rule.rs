//! What one route requires of the caller's relations ([`RelationRule`]), as the attribute
//! resolved it from `rampart.toml`.

/// The rule one route applies: the caller must hold `relation` on the resource, directly or
/// through a relation that implies it, or have one of `roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelationRule {
    /// The resource type (`note`): objects are named `note:<id>`.
    pub kind: &'static str,
    /// The relation the route requires.
    pub relation: &'static str,
    /// The relations that grant it: itself and every relation that implies it.
    pub granted_by: &'static [&'static str],
    /// Every relation of the type: holding any makes the resource visible to the caller (a
    /// denial is then 403, not 404).
    pub relations: &'static [&'static str],
    /// The roles that hold a granting relation on every object of the type.
    pub roles: &'static [&'static str],
}

impl RelationRule {
    /// Whether holding `relation` satisfies this rule.
    pub fn is_granted_by(&self, relation: &str) -> bool {
        self.granted_by.contains(&relation)
    }
}

/// The relation held by a resource's own owner (see [`crate::authz::Resource::owner`]).
pub const OWNER: &str = "owner";
