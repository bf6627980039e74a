//! optgate configuration: serde structs (DESIGN.md §4), loading with the
//! `config` crate (TOML file + `OPTGATE__SECTION__KEY` environment
//! overrides) and [`Config::validate`], which reports every problem at once.

mod de;
mod enums;
mod error;
mod ipnet;
mod keywords;
mod quiet;
mod retention;
mod sections;
mod validate;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use enums::{
    Alphabet, Attachment, CampaignStatus, ConsentScope, Durability, InboundUnknown, OptOutScope,
    OutboundUnknown, PhraseOptOut, StoreBackend, UnassignedSenders, UpstreamBind,
};
pub use error::{ConfigErrors, Problem};
pub use ipnet::{parse_ip_net, IpNet};
pub use keywords::{KeywordsConfig, DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT};
pub use quiet::{
    to_policy as quiet_policy, CampaignQuietHours, QuietActionConfig, QuietOverrides,
    QuietWindowConfig, DEFAULT_QUIET_STATUS,
};
pub use retention::RetentionConfig;
pub use sections::{
    AccountConfig, AdminConfig, CampaignConfig, NumbersConfig, PolicyConfig, ServerConfig,
    ServerTlsConfig, StatusCodes, StoreConfig, TextConfig, UpstreamConfig, UpstreamTlsConfig,
    DEFAULT_HELP_RESPONSE, DEFAULT_OPT_IN_MESSAGE,
};
pub use validate::{coarse_number_key, NumberKey, TEMPLATE_PLACEHOLDERS};
pub use webhooks::WebhookConfig;

/// Prefix of environment overrides: `OPTGATE__SECTION__KEY`.
pub const ENV_PREFIX: &str = "OPTGATE";
/// Separator between the prefix, sections and keys of an environment override.
pub const ENV_SEPARATOR: &str = "__";

/// The whole configuration. Every section has defaults; only the accounts
/// and the upstream address and credentials must be given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]` with `[[server.accounts]]`.
    pub server: ServerConfig,
    /// `[upstream]`.
    pub upstream: UpstreamConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[numbers]`.
    pub numbers: NumbersConfig,
    /// `[policy]`.
    pub policy: PolicyConfig,
    /// `[keywords]`.
    pub keywords: KeywordsConfig,
    /// `[status_codes]`.
    pub status_codes: StatusCodes,
    /// `[text]`.
    pub text: TextConfig,
    /// `[[campaigns]]`; none = a plain proxy.
    pub campaigns: Vec<CampaignConfig>,
    /// `[[webhooks]]`: receivers of every consent change.
    pub webhooks: Vec<WebhookConfig>,
    /// `[quiet_hours]`: per-state and per-area-code quiet periods.
    pub quiet_hours: QuietOverrides,
}

impl Config {
    /// Loads `path` (TOML) with the process environment's `OPTGATE__…`
    /// overrides on top, then validates. Every problem is reported.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Self::load_with_env(path, None)
    }

    /// As [`Config::load`], but environment overrides come from `env`
    /// (full variable names) instead of the process when it is `Some`.
    pub fn load_with_env(
        path: &Path,
        env: Option<HashMap<String, String>>,
    ) -> Result<Config, ConfigErrors> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Problem::text("config file", &shown, format!("cannot read: {e}")))?;
        Self::build(&text, &shown, Some(env_source(env)))
    }

    /// Parses TOML text without environment overrides, then validates.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigErrors> {
        Self::build(text, "config", None)
    }

    fn build(
        text: &str,
        origin: &str,
        env: Option<config::Environment>,
    ) -> Result<Config, ConfigErrors> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml));
        if let Some(env) = env {
            builder = builder.add_source(env);
        }
        let parsed = builder
            .build()
            .and_then(|c| c.try_deserialize::<Config>())
            .map_err(|e| error::from_config_error(e, origin))?;
        let mut cfg = parsed;
        cfg.keywords.ensure_mandatory();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks everything serde can not: addresses, limits, uniqueness,
    /// templates, status codes. Returns every problem, one line each.
    /// Numbers are compared with [`coarse_number_key`].
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        self.validate_with(&coarse_number_key)
    }

    /// As [`Config::validate`], comparing account and campaign numbers in
    /// the form `number_key` gives (e.g. the full `numbers` normalisation).
    pub fn validate_with(&self, number_key: NumberKey<'_>) -> Result<(), ConfigErrors> {
        let problems = validate::all(self, number_key);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// The account that lists `system_id`.
    pub fn account(&self, system_id: &str) -> Option<&AccountConfig> {
        self.server
            .accounts
            .iter()
            .find(|a| a.system_id == system_id)
    }
}

impl ServerConfig {
    /// `listen` parsed. Valid after [`Config::validate`].
    pub fn listen_addr(&self) -> Result<SocketAddr, Problem> {
        validate::socket_addr("server.listen", &self.listen)
    }
}

impl AdminConfig {
    /// `listen` parsed. Valid after [`Config::validate`].
    pub fn listen_addr(&self) -> Result<SocketAddr, Problem> {
        validate::socket_addr("admin.listen", &self.listen)
    }
}

impl AccountConfig {
    /// Whether a bind from `ip` is allowed (`allowed_ips` empty: any).
    /// Unparseable entries (rejected by validation) match nothing.
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.allowed_ips.is_empty()
            || self
                .allowed_ips
                .iter()
                .filter_map(|s| parse_ip_net(s))
                .any(|net| net.contains(ip))
    }
}

fn env_source(env: Option<HashMap<String, String>>) -> config::Environment {
    // No try_parsing: the config crate converts strings to numbers, bools
    // and durations on demand, while try_parsing would turn a password such
    // as "0012" into the integer 12.
    config::Environment::with_prefix(ENV_PREFIX)
        .separator(ENV_SEPARATOR)
        .source(env)
}
