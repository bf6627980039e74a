//! Revoke-all (FCC 47 CFR 64.1200(a)(10), in force from 31 January 2027):
//! an opt-out given to one campaign of a sender may have to stop the
//! sender's other campaigns too. `campaigns[].opt_out_scope` says how far a
//! STOP to that campaign reaches:
//!
//! - `campaign` (default): only the scope key it was sent to (as before);
//! - `account`: every approved campaign with a sender number that belongs
//!   to a platform account owning one of the originating campaign's numbers;
//! - `brand`: every approved campaign of the same brand (compared
//!   case-folded, surrounding spaces ignored).
//!
//! The reach is decided by the campaign the STOP was sent to. Only
//! opt-outs reach further: a START restores the one scope key it was sent
//! to, so a recipient who said STOP to a brand must opt in to each of its
//! other campaigns again (a revocation is broad, a consent is specific).

use std::collections::HashMap;

use super::campaign::{Campaign, Campaigns, ScopeKey};

/// How far an opt-out to a campaign reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptOutScope {
    /// The scope key it was sent to.
    #[default]
    Campaign,
    /// Every campaign sharing a platform account.
    Account,
    /// Every campaign of the same brand.
    Brand,
}

/// Per campaign id: its reach, and what groups it with others.
#[derive(Debug, Clone, Default)]
pub struct RevokeAll {
    members: HashMap<String, Member>,
}

#[derive(Debug, Clone)]
struct Member {
    scope: OptOutScope,
    brand: String,
    /// Platform accounts owning at least one of its numbers.
    accounts: Vec<String>,
}

impl RevokeAll {
    /// Builds the groups from the campaigns, their `opt_out_scope` (by
    /// campaign id; missing ids mean [`OptOutScope::Campaign`]) and the
    /// platform accounts with the sender numbers each owns (normal form).
    pub fn new(
        campaigns: &Campaigns,
        scopes: &HashMap<String, OptOutScope>,
        accounts: &[(String, Vec<String>)],
    ) -> RevokeAll {
        let members = campaigns
            .iter()
            .map(|c| {
                let owners = accounts
                    .iter()
                    .filter(|(_, nums)| {
                        nums.iter()
                            .any(|n| c.numbers.iter().any(|m| m.eq_ignore_ascii_case(n)))
                    })
                    .map(|(a, _)| a.clone())
                    .collect();
                let m = Member {
                    scope: scopes.get(&c.id).copied().unwrap_or_default(),
                    brand: c.brand.trim().to_lowercase(),
                    accounts: owners,
                };
                (c.id.clone(), m)
            })
            .collect();
        RevokeAll { members }
    }

    /// The reach of an opt-out to campaign `id`.
    pub fn scope_of(&self, id: &str) -> OptOutScope {
        self.members
            .get(id)
            .map_or(OptOutScope::Campaign, |m| m.scope)
    }

    /// Every scope key an opt-out from `recipient` to `origin` refuses
    /// besides `origin_key` itself, in config order (campaign, then
    /// number). Empty under [`OptOutScope::Campaign`]. Pending campaigns
    /// enforce nothing and are left out.
    pub fn keys(
        &self,
        campaigns: &Campaigns,
        origin: &Campaign,
        origin_key: &ScopeKey,
        recipient: &str,
    ) -> Vec<ScopeKey> {
        let Some(o) = self.members.get(&origin.id) else {
            return Vec::new();
        };
        let mut out: Vec<ScopeKey> = Vec::new();
        for c in campaigns.iter().filter(|c| c.approved) {
            let Some(m) = self.members.get(&c.id) else {
                continue;
            };
            let same = match o.scope {
                OptOutScope::Campaign => false,
                OptOutScope::Brand => m.brand == o.brand,
                OptOutScope::Account => m.accounts.iter().any(|a| o.accounts.contains(a)),
            };
            if !same {
                continue;
            }
            for n in &c.numbers {
                let k = c.scope_key(n, recipient);
                if &k != origin_key && !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Scope, StatusCodes, Unassigned};

    fn camp(id: &str, brand: &str, numbers: &[&str], scope: Scope) -> Campaign {
        let mut c = Campaign::new(id, brand);
        c.numbers = numbers.iter().map(|n| (*n).to_owned()).collect();
        c.scope = scope;
        c
    }

    fn setup(origin_scope: OptOutScope) -> (Campaigns, RevokeAll) {
        let mut pending = camp("later", "ACME", &["5"], Scope::Number);
        pending.approved = false;
        let all = Campaigns::new(
            vec![
                camp("alerts", "ACME", &["1", "2"], Scope::Number),
                camp("promo", " acme ", &["3"], Scope::Campaign),
                camp("other", "Beta", &["4"], Scope::Number),
                pending,
            ],
            Unassigned::Pass,
            &StatusCodes::default(),
        )
        .unwrap_or_default();
        let scopes = HashMap::from([("alerts".to_owned(), origin_scope)]);
        let accounts = vec![
            ("pbx".to_owned(), vec!["1".to_owned(), "4".to_owned()]),
            ("crm".to_owned(), vec!["3".to_owned()]),
        ];
        let r = RevokeAll::new(&all, &scopes, &accounts);
        (all, r)
    }

    fn keys(scope: OptOutScope) -> Vec<(String, Option<String>)> {
        let (all, r) = setup(scope);
        let Some(origin) = all.get("alerts") else {
            return Vec::new();
        };
        let key = origin.scope_key("1", "9");
        r.keys(&all, origin, &key, "9")
            .into_iter()
            .map(|k| (k.campaign, k.sender))
            .collect()
    }

    fn k(c: &str, s: Option<&str>) -> (String, Option<String>) {
        (c.to_owned(), s.map(str::to_owned))
    }

    #[test]
    fn campaign_scope_reaches_nothing_else() {
        assert!(keys(OptOutScope::Campaign).is_empty());
    }

    #[test]
    fn brand_scope_reaches_every_approved_campaign_of_the_brand() {
        assert_eq!(
            keys(OptOutScope::Brand),
            [k("alerts", Some("2")), k("promo", None)]
        );
    }

    #[test]
    fn account_scope_reaches_campaigns_sharing_an_account() {
        assert_eq!(
            keys(OptOutScope::Account),
            [k("alerts", Some("2")), k("other", Some("4"))]
        );
    }

    #[test]
    fn the_reach_is_the_originating_campaigns() {
        let (_, r) = setup(OptOutScope::Brand);
        assert_eq!(r.scope_of("alerts"), OptOutScope::Brand);
        assert_eq!(r.scope_of("promo"), OptOutScope::Campaign);
        assert_eq!(r.scope_of("nope"), OptOutScope::Campaign);
    }
}
