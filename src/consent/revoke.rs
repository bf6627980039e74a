//! Revoke-all carried out: an opt-out to a campaign whose `opt_out_scope`
//! reaches further refuses the recipient for every scope key of the group
//! ([`crate::policy::revoke`]), in the same store transaction as the STOP
//! itself, so they commit (and are acknowledged to the carrier) together.

use super::EngineConfig;
use crate::policy::{Campaign, ConsentStatus};
use crate::store::consent::Key;
use crate::store::{StoreError, StoreTxn};

/// Refuses every other key an opt-out to `campaign` from `origin`'s
/// recipient reaches. Each change is its own `consent_change` event whose
/// source names the keyword and the originating campaign
/// (`STOP via campaign alerts`). Returns how many keys changed.
pub(super) fn refuse_group(
    t: &mut dyn StoreTxn,
    cfg: &EngineConfig,
    campaign: &Campaign,
    origin: &Key,
    word: &str,
) -> Result<usize, StoreError> {
    let origin_key = crate::policy::ScopeKey {
        campaign: origin.campaign.clone(),
        sender: (!origin.sender.is_empty()).then(|| origin.sender.clone()),
        recipient: origin.recipient.clone(),
    };
    let keys = cfg
        .revoke
        .keys(&cfg.campaigns, campaign, &origin_key, &origin.recipient);
    let source = format!("{word} via campaign {}", campaign.id);
    let mut changed = 0;
    for k in keys {
        let key = Key {
            campaign: k.campaign,
            sender: k.sender.unwrap_or_default(),
            recipient: k.recipient,
        };
        if t.set_status(&key, ConsentStatus::Refused, &source, "")? != ConsentStatus::Refused {
            changed += 1;
        }
    }
    Ok(changed)
}
