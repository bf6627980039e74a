//! The configuration schema (DESIGN.md §4): one struct per TOML section.
//!
//! Every struct denies unknown keys so a typo is an error that names the key,
//! and every key has a default so whole sections may be left out. Values are
//! kept as written (addresses and numbers are strings); `validate()` checks
//! them and the accessors parse them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::enums::{
    Alphabet, Attachment, CampaignStatus, ConsentScope, Durability, InboundUnknown, OptOutScope,
    OutboundUnknown, StoreBackend, UnassignedSenders, UpstreamBind,
};

/// `[server]`: the platform-facing SMPP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Socket address the SMPP listener binds (`host:port`, IP literal).
    pub listen: String,
    /// Concurrent platform connections; more are refused at accept.
    pub max_connections: u32,
    /// Outstanding requests per platform bind; over it: ESME_RTHROTTLED.
    pub window: u32,
    /// A connection must bind within this.
    #[serde(with = "humantime_serde")]
    pub bind_timeout: Duration,
    /// No PDU at all for this long: unbind and close.
    #[serde(with = "humantime_serde")]
    pub inactivity_timeout: Duration,
    /// Largest `command_length` accepted from a platform.
    pub max_pdu_len: u32,
    /// Failed bind attempts allowed per source IP within `failed_bind_window`.
    pub failed_bind_limit: u32,
    /// The window over which `failed_bind_limit` counts.
    #[serde(with = "humantime_serde")]
    pub failed_bind_window: Duration,
    /// SIGTERM: time allowed to drain before exit.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// A carrier receipt or plain MO goes straight to a bound platform and
    /// the carrier is answered after the platform's answer, if it comes
    /// within this; else (and with "0s") it is stored first.
    #[serde(with = "humantime_serde")]
    pub direct_delivery_wait: Duration,
    /// The platform accounts allowed to bind.
    pub accounts: Vec<AccountConfig>,
    /// `[server.tls]`: a second listener, for SMPP over TLS.
    pub tls: ServerTlsConfig,
}

/// `[server.tls]` (DESIGN.md §8): off while `listen` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerTlsConfig {
    /// Socket address of the TLS listener (conventionally port 3550); empty: none.
    pub listen: String,
    /// PEM certificate chain, leaf first.
    pub cert: String,
    /// PEM private key (PKCS#8, RSA or SEC1).
    pub key: String,
    /// PEM bundle; when set, platforms must present a certificate chaining to it.
    pub client_ca: String,
}

impl ServerTlsConfig {
    /// Whether the TLS listener is configured.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty()
    }
}

/// `[upstream.tls]` (DESIGN.md §8).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamTlsConfig {
    /// Bind to the carrier over TLS.
    pub enabled: bool,
    /// PEM bundle to trust; empty: the system's trust store.
    pub ca: String,
    /// Name verified and sent as SNI; empty: the host of `upstream.address`.
    pub server_name: String,
    /// Client certificate (PEM chain) for carriers that require mutual TLS.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:2775".into(),
            max_connections: 1000,
            window: 100,
            bind_timeout: Duration::from_secs(10),
            inactivity_timeout: Duration::from_secs(120),
            max_pdu_len: 70_000,
            failed_bind_limit: 5,
            failed_bind_window: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            direct_delivery_wait: Duration::from_millis(500),
            accounts: Vec::new(),
            tls: ServerTlsConfig::default(),
        }
    }
}

/// `[[server.accounts]]`: one platform account (`system_id`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    /// SMPP `system_id`, at most 15 characters (C-Octet String of 16).
    pub system_id: String,
    /// SMPP `password`, at most 8 characters (C-Octet String of 9).
    pub password: String,
    /// Sender numbers as written; MO to these route to this account.
    pub numbers: Vec<String>,
    /// Simultaneous binds of this account.
    #[serde(default = "default_max_binds")]
    pub max_binds: u32,
    /// Source networks (`addr` or `addr/len`) allowed to bind; empty: any.
    pub allowed_ips: Vec<String>,
    /// Let this account submit from sender numbers it does not list.
    pub allow_any_sender: bool,
    /// Bind only over the TLS listener (plain TCP: ESME_RBINDFAIL).
    pub require_tls: bool,
    /// When set: bind only with a client certificate naming this (subject
    /// CN or a DNS/IP subject alternative name); implies TLS.
    pub tls_client_name: String,
}

fn default_max_binds() -> u32 {
    4
}

/// `[upstream]`: the carrier SMSC optgate binds to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// `host:port` of the SMSC (a host name is allowed; resolved at connect).
    pub address: String,
    /// `system_id` optgate binds with (at most 15 characters).
    pub system_id: String,
    /// `password` optgate binds with (at most 8 characters).
    pub password: String,
    /// `system_type` sent in the bind.
    pub system_type: String,
    /// One transceiver bind, or a transmitter plus a receiver.
    pub bind: UpstreamBind,
    /// Number of bind sets kept open.
    pub binds: u32,
    /// Outstanding requests per upstream bind.
    pub window: u32,
    /// Submits per second over all binds; 0 = unlimited.
    pub max_tps: u32,
    /// optgate's own enquire_link period on idle upstream binds.
    #[serde(with = "humantime_serde")]
    pub enquire_link_interval: Duration,
    /// How long to wait for a response from the carrier.
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// First reconnect delay; doubled up to `reconnect_max`, with jitter.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// How long a carrier message id → account mapping is kept for receipts.
    #[serde(with = "humantime_serde")]
    pub id_map_ttl: Duration,
    /// Map every receipt-asking MT's carrier id, for carriers whose
    /// receipts are not addressed to the MT's sender; off: only where the
    /// address would route wrongly (see `receipts::routed_by_address`).
    pub id_map_always: bool,
    /// `[upstream.tls]`: SMPP over TLS to the carrier.
    pub tls: UpstreamTlsConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            address: String::new(),
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            bind: UpstreamBind::Transceiver,
            binds: 1,
            window: 100,
            max_tps: 0,
            enquire_link_interval: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            id_map_ttl: Duration::from_secs(72 * 3600),
            id_map_always: false,
            tls: UpstreamTlsConfig::default(),
        }
    }
}

/// `[store]`: the SQLite database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite` (embedded file) or `postgres` (a server at `url`).
    pub backend: StoreBackend,
    /// SQLite database file; relative paths are relative to the working directory.
    pub path: String,
    /// PostgreSQL connection string: a `postgres://` URL or libpq
    /// `key=value` pairs. The password may instead come from `PGPASSWORD`
    /// or a passfile (`PGPASSFILE`, `~/.pgpass`).
    pub url: String,
    /// PostgreSQL: most read connections of the admin API and page (opened
    /// when needed, besides the store thread's and the consent listener's),
    /// so a slow admin read never holds up the store thread's commits.
    pub pool_size: u32,
    /// `full`: fsync each commit batch; `normal`: survives a crash, not a power cut.
    pub durability: Durability,
    /// MOs and receipts kept for unbound platforms; over it the carrier gets ESME_RMSGQFUL.
    pub max_stored_deliveries: u64,
    /// Most requests committed together in one transaction (group commit).
    pub batch_max: u32,
    /// This instance's unique name among the instances sharing one
    /// PostgreSQL database; empty: host name + ":" + SMPP listen port.
    pub instance: String,
    /// The instance row's heartbeat comes every third of this; the claims
    /// of an instance whose machine vanished end within about this (the
    /// server's TCP keepalives on the instance's session).
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// `[store.retention]`: how long message bodies and events are kept.
    pub retention: super::retention::RetentionConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sqlite,
            path: "data/optgate.db".into(),
            url: String::new(),
            pool_size: 8,
            durability: Durability::Full,
            max_stored_deliveries: 100_000,
            batch_max: 512,
            instance: String::new(),
            lease: Duration::from_secs(30),
            retention: super::retention::RetentionConfig::default(),
        }
    }
}

/// `[admin]`: the HTTP endpoint for metrics, health and the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Socket address of the admin HTTP listener.
    pub listen: String,
    /// Bearer token for the write API; empty: write API off.
    pub token: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9102".into(),
            token: String::new(),
        }
    }
}

/// `[numbers]`: how addresses are normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumbersConfig {
    /// Country calling code (digits, no `+`) for national numbers.
    pub default_country_code: String,
}

impl Default for NumbersConfig {
    fn default() -> Self {
        Self {
            default_country_code: "1".into(),
        }
    }
}

/// `[policy]`: rules that are not per campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// What happens to a sender number in no approved-or-pending campaign.
    pub unassigned_senders: UnassignedSenders,
    /// An opt-out confirmation not handed to the carrier within this time
    /// of the STOP's receipt is not sent late (recorded as missed).
    #[serde(with = "humantime_serde")]
    pub opt_out_confirmation_deadline: Duration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            unassigned_senders: UnassignedSenders::default(),
            opt_out_confirmation_deadline: Duration::from_secs(300),
        }
    }
}

/// `[status_codes]`: `command_status` values for consent blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusCodes {
    /// Submit to a recipient who opted out.
    #[serde(deserialize_with = "super::de::status_code")]
    pub opted_out: u32,
    /// Submit without consent under `outbound_unknown = "prevent"`.
    #[serde(deserialize_with = "super::de::status_code")]
    pub prevented: u32,
    /// Submit from a sender in no campaign under `unassigned_senders = "reject"`.
    #[serde(deserialize_with = "super::de::status_code")]
    pub unassigned_sender: u32,
}

impl Default for StatusCodes {
    fn default() -> Self {
        Self {
            opted_out: 0x400,
            prevented: 0x401,
            unassigned_sender: 0x402,
        }
    }
}

/// `[text]`: message text handling.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextConfig {
    /// What `data_coding` 0 means on this carrier link.
    pub default_alphabet: Alphabet,
}

/// `[[campaigns]]`: sender numbers sharing one consent policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    /// Unique campaign id (used in the consent log).
    pub id: String,
    /// Only approved campaigns enforce anything.
    pub status: CampaignStatus,
    /// Brand name put in every response.
    pub brand: String,
    /// Sender numbers as written.
    pub numbers: Vec<String>,
    /// Consent per sender number or per campaign.
    pub consent_scope: ConsentScope,
    /// What a STOP to this campaign refuses (revoke-all).
    pub opt_out_scope: OptOutScope,
    /// MT to a recipient with no consent row.
    pub outbound_unknown: OutboundUnknown,
    /// MO from a recipient with no consent row.
    pub inbound_unknown: InboundUnknown,
    /// Extra opt-in keyword of this campaign.
    pub start_word: String,
    /// Opt-in request template (`{brand}`, `{start_word}`).
    pub opt_in_message: String,
    /// HELP response template (`{brand}`, `{start_word}`).
    pub help_response: String,
    /// Whether the first custom message carries the footer.
    pub attachment: Attachment,
    /// Footer template (`{brand}`, `{start_word}`).
    pub footer: String,
    /// Held messages older than this are dropped (EXPIRED receipt).
    #[serde(with = "humantime_serde")]
    pub hold_ttl: Duration,
    /// Held messages per recipient; over it: ESME_RMSGQFUL.
    pub max_held_per_recipient: u32,
    /// Quiet hours in the recipient's local time (README "Quiet hours").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<super::quiet::CampaignQuietHours>,
}

/// Default opt-in request (DESIGN.md §2).
pub const DEFAULT_OPT_IN_MESSAGE: &str = "{brand}: Reply {start_word} to receive messages from {brand}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.";

/// Default HELP response. DESIGN.md §4 shows an ACME-specific text as the
/// example; a default must fit any brand, so it names only the keywords.
pub const DEFAULT_HELP_RESPONSE: &str =
    "{brand}: Reply {start_word} to receive messages, STOP to opt out. Msg & data rates may apply.";

impl Default for CampaignConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            status: CampaignStatus::Approved,
            brand: String::new(),
            numbers: Vec::new(),
            consent_scope: ConsentScope::Number,
            opt_out_scope: OptOutScope::Campaign,
            outbound_unknown: OutboundUnknown::RequireOptIn,
            inbound_unknown: InboundUnknown::Allow,
            start_word: "START".into(),
            opt_in_message: DEFAULT_OPT_IN_MESSAGE.into(),
            help_response: DEFAULT_HELP_RESPONSE.into(),
            attachment: Attachment::FirstMessage,
            footer: "Reply STOP to opt out.".into(),
            hold_ttl: Duration::from_secs(24 * 3600),
            max_held_per_recipient: 20,
            quiet_hours: None,
        }
    }
}

impl CampaignConfig {
    /// Renders a template of this campaign: `{brand}` and `{start_word}` are
    /// replaced; anything else is left as written (validation rejects it).
    pub fn render(&self, template: &str) -> String {
        template
            .replace("{brand}", &self.brand)
            .replace("{start_word}", &self.start_word)
    }
}
