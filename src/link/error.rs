//! Why a link ended, and which side it was: one typed error for both
//! connection loops (the platform session and the carrier bind).

use std::fmt;
use std::time::Duration;

use crate::codec::CodecError;
use crate::telemetry::Side;

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Platform => "platform",
            Side::Carrier => "carrier",
        })
    }
}

/// Why a link (a bound SMPP connection) ended. Each variant names the
/// side whose link it was.
#[derive(Debug, thiserror::Error)]
pub enum End {
    /// optgate is shutting down.
    #[error("shutdown")]
    Shutdown,
    /// The peer closed the TCP connection.
    #[error("the {0} closed the connection")]
    PeerClosed(Side),
    /// A bad command_length: nothing more can be read.
    #[error("framing lost with the {side}: {source}")]
    Framing {
        side: Side,
        #[source]
        source: CodecError,
    },
    /// Writing failed.
    #[error("write to the {side} failed: {source}")]
    Write {
        side: Side,
        #[source]
        source: CodecError,
    },
    /// A flush made no progress within its deadline (the peer stopped reading).
    #[error("write to the {side} stalled for {after:?}")]
    Stalled { side: Side, after: Duration },
    /// Our enquire_link was not answered within response_timeout.
    #[error("enquire_link to the {0} unanswered")]
    KeepAlive(Side),
    /// The peer unbound (or answered our unbind).
    #[error("the {0} unbound")]
    Unbound(Side),
    /// A platform that did not bind within bind_timeout.
    #[error("no bind from the {0} within bind_timeout")]
    BindTimeout(Side),
    /// Nothing read within inactivity_timeout.
    #[error("nothing from the {0} within inactivity_timeout")]
    Inactive(Side),
    /// A bind refused by optgate.
    #[error("bind of the {0} refused")]
    BindRefused(Side),
}

impl End {
    /// A short, fixed label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            End::Shutdown => "shutdown",
            End::PeerClosed(_) => "peer_closed",
            End::Framing { .. } => "framing",
            End::Write { .. } => "write_failed",
            End::Stalled { .. } => "write_stalled",
            End::KeepAlive(_) => "enquire_link_unanswered",
            End::Unbound(_) => "unbound",
            End::BindTimeout(_) => "bind_timeout",
            End::Inactive(_) => "inactive",
            End::BindRefused(_) => "bind_refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_which_side_and_why() {
        assert_eq!(
            End::PeerClosed(Side::Carrier).to_string(),
            "the carrier closed the connection"
        );
        let e = End::Framing {
            side: Side::Platform,
            source: CodecError::BadLength { command_length: 3 },
        };
        assert_eq!(
            e.to_string(),
            "framing lost with the platform: bad command_length 3"
        );
        assert_eq!(e.label(), "framing");
    }
}
