//! Closed sets of config values, written in TOML as lowercase snake_case
//! strings; a misspelt value is an error listing the allowed ones.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _};
use serde::{Serialize, Serializer};

/// Implements string (de)serialisation with the TOML names, so a misspelt
/// value is reported as `unknown variant `x`, expected one of ...`.
macro_rules! string_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $name {
            /// The accepted TOML values.
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// The TOML name of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                match text.as_str() {
                    $($text => Ok(Self::$variant),)+
                    other => Err(D::Error::unknown_variant(other, Self::VALUES)),
                }
            }
        }
    };
}

/// `upstream.bind`: how optgate binds to the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamBind {
    /// One bind_transceiver per bind set.
    #[default]
    Transceiver,
    /// A bind_transmitter plus a bind_receiver per bind set.
    TransmitterReceiver,
}

/// `store.durability`: SQLite `synchronous` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: each commit batch is fsynced.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash, not a power cut.
    Normal,
}

/// `store.backend`: where durable state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreBackend {
    /// An embedded SQLite file (`store.path`); nothing to install.
    #[default]
    Sqlite,
    /// A PostgreSQL database (`store.url`), shareable by several instances.
    Postgres,
}

/// `campaigns[].status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CampaignStatus {
    /// The campaign's policy is enforced.
    #[default]
    Approved,
    /// Not yet approved: its numbers pass through untouched.
    Pending,
}

/// `campaigns[].consent_scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentScope {
    /// Consent per (campaign, sender number, recipient).
    #[default]
    Number,
    /// Consent per (campaign, recipient).
    Campaign,
}

/// `campaigns[].opt_out_scope`: what a STOP to this campaign refuses
/// (the FCC revoke-all rule, 47 CFR 64.1200(a)(10)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptOutScope {
    /// Only the scope key the STOP was sent to.
    #[default]
    Campaign,
    /// Every campaign with a number of the same platform account.
    Account,
    /// Every campaign of the same brand.
    Brand,
}

/// `campaigns[].outbound_unknown`: MT to a recipient with no consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutboundUnknown {
    /// Forward and record `unverified_first_contact`.
    Allow,
    /// Send the opt-in request and hold the message.
    #[default]
    RequireOptIn,
    /// Reject with `status_codes.prevented`.
    Prevent,
}

/// `campaigns[].inbound_unknown`: MO from a recipient with no consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboundUnknown {
    /// The recipient started the conversation: status → active.
    #[default]
    Allow,
    /// Send the opt-in request: status → pending.
    AutoOptIn,
}

/// `campaigns[].attachment`: footer on the first custom message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attachment {
    /// Append the footer to the first custom message.
    #[default]
    FirstMessage,
    /// Never append anything.
    None,
}

/// `policy.unassigned_senders`: senders in no campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnassignedSenders {
    /// Pass through untouched.
    #[default]
    Pass,
    /// Reject with `status_codes.unassigned_sender`.
    Reject,
}

/// `keywords.phrase_opt_out`: a multi-word MO containing an opt-out word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhraseOptOut {
    /// Record a `probable_opt_out` event only.
    #[default]
    Flag,
    /// Record it and refuse, as for a whole-message opt-out.
    OptOut,
}

/// `text.default_alphabet`: what `data_coding` 0 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alphabet {
    /// GSM 03.38 default alphabet (unpacked, one septet per octet).
    #[default]
    Gsm7,
    /// ISO-8859-1.
    Latin1,
    /// IA5 / ASCII.
    Ascii,
}

string_enum!(UpstreamBind { Transceiver = "transceiver", TransmitterReceiver = "transmitter_receiver" });
string_enum!(Durability { Full = "full", Normal = "normal" });
string_enum!(StoreBackend { Sqlite = "sqlite", Postgres = "postgres" });
string_enum!(CampaignStatus { Approved = "approved", Pending = "pending" });
string_enum!(ConsentScope { Number = "number", Campaign = "campaign" });
string_enum!(OptOutScope { Campaign = "campaign", Account = "account", Brand = "brand" });
string_enum!(OutboundUnknown { Allow = "allow", RequireOptIn = "require_opt_in", Prevent = "prevent" });
string_enum!(InboundUnknown { Allow = "allow", AutoOptIn = "auto_opt_in" });
string_enum!(Attachment { FirstMessage = "first_message", None = "none" });
string_enum!(UnassignedSenders { Pass = "pass", Reject = "reject" });
string_enum!(PhraseOptOut { Flag = "flag", OptOut = "opt_out" });
string_enum!(Alphabet { Gsm7 = "gsm7", Latin1 = "latin1", Ascii = "ascii" });
