//! Opening one carrier link: the settings, TCP (and TLS) connect and the
//! SMPP bind with a typed error saying what failed, and the backoff between
//! attempts.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;

use super::tps::TokenBucket;
use crate::codec::{FrameCodec, SmppCodec};
use crate::link::{End, Link};
use crate::pdu::{command as cmd, status, Bind, Body, Pdu, Text};
use crate::telemetry::Side;
use crate::transport::Stream;

/// What the carrier side needs to know, taken from `[upstream]`.
#[derive(Debug)]
pub struct UpstreamSettings {
    pub address: String,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub binds: usize,
    /// `bind = "transmitter_receiver"`: a transmitter and a receiver per bind.
    pub split_tx_rx: bool,
    pub window: usize,
    pub enquire_link_interval: Duration,
    pub response_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    pub max_pdu_len: usize,
    pub tps: TokenBucket,
    /// `[upstream.tls]`: bind over TLS with this configuration.
    pub tls: Option<crate::tls::ClientTls>,
}

/// The SMPP bind a carrier connection makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindRole {
    Transceiver,
    Transmitter,
    Receiver,
}

impl BindRole {
    pub(super) fn command(self) -> u32 {
        match self {
            BindRole::Transceiver => cmd::BIND_TRANSCEIVER,
            BindRole::Transmitter => cmd::BIND_TRANSMITTER,
            BindRole::Receiver => cmd::BIND_RECEIVER,
        }
    }
}

/// A carrier link, decoding PDUs and keeping each one's bytes (a receipt
/// that goes to a platform unchanged is written as it came).
pub type CarrierLink = Link<FrameCodec>;

/// Why a carrier bind could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("connect to {address} timed out")]
    ConnectTimeout { address: String },
    #[error("connect to {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS handshake with {address} timed out")]
    TlsTimeout { address: String },
    #[error("TLS handshake with {address}: {source}")]
    Tls {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bind request not written: {0}")]
    Write(#[source] End),
    #[error("no bind_resp within response_timeout")]
    NoAnswer,
    #[error("bind_resp not read: {0}")]
    Read(#[source] End),
    #[error("bad bind_resp: {0}")]
    Malformed(#[source] crate::pdu::DecodeError),
    #[error("unexpected answer to bind: {0:#010x}")]
    Unexpected(u32),
    #[error("carrier refused bind: {} ({status:#x})", status::status_name(*status))]
    Refused { status: u32 },
}

/// Connects to the carrier and binds as `role`.
pub async fn connect_and_bind(
    s: &UpstreamSettings,
    role: BindRole,
) -> Result<CarrierLink, BindError> {
    let address = || s.address.clone();
    let stream = timeout(s.response_timeout, TcpStream::connect(&s.address))
        .await
        .map_err(|_| BindError::ConnectTimeout { address: address() })?
        .map_err(|source| BindError::Connect {
            address: address(),
            source,
        })?;
    let stream: Stream = match &s.tls {
        None => stream.into(),
        Some(tls) => timeout(
            s.response_timeout,
            crate::tls::connect(tls, stream, &s.address),
        )
        .await
        .map_err(|_| {
            let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake");
            crate::tls::handshake_failed("carrier", &s.address, &e);
            BindError::TlsTimeout { address: address() }
        })?
        .map_err(|source| BindError::Tls {
            address: address(),
            source,
        })?
        .into(),
    };
    // Our requests are numbered from 2: the bind is 1.
    let mut link = Link::new(
        Side::Carrier,
        stream,
        FrameCodec(SmppCodec::new(s.max_pdu_len)),
        s.max_pdu_len,
        2,
    );
    let bind = Bind {
        system_id: Text::from(s.system_id.clone()),
        password: Text::from(s.password.clone()),
        system_type: Text::from(s.system_type.clone()),
        interface_version: 0x34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: Text::new(),
        tlvs: Default::default(),
    };
    let body = match role {
        BindRole::Transceiver => Body::BindTransceiver(Box::new(bind)),
        BindRole::Transmitter => Body::BindTransmitter(Box::new(bind)),
        BindRole::Receiver => Body::BindReceiver(Box::new(bind)),
    };
    link.send(&Pdu::new(1, body), s.response_timeout)
        .await
        .map_err(BindError::Write)?;
    let frame = timeout(s.response_timeout, link.read())
        .await
        .map_err(|_| BindError::NoAnswer)?
        .map_err(BindError::Read)?;
    let resp = Pdu::decode_ref(&frame).map_err(BindError::Malformed)?;
    if resp.command_id() != (role.command() | 0x8000_0000) {
        return Err(BindError::Unexpected(resp.command_id()));
    }
    if resp.command_status != status::ESME_ROK {
        return Err(BindError::Refused {
            status: resp.command_status,
        });
    }
    Ok(link)
}

/// Full jitter on the lower half: wait between d/2 and d.
pub(super) fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let frac = f64::from(nanos % 1000) / 1000.0;
    d.mul_f64(0.5 + 0.5 * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_full() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(2));
            assert!(j >= Duration::from_secs(1) && j <= Duration::from_secs(2));
        }
    }
}
