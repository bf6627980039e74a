//! `optgate sim send`: a platform in one command. Binds as a transmitter,
//! submits one message, prints the answer, unbinds. Handy to try optgate by
//! hand and in scripts (exit code 0 only when the message was accepted).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::codec::SmppCodec;
use crate::pdu::{command as cmd, status, Bind, Body, Pdu, Sm, Text};

/// How long each step (connect, bind, submit, unbind) may take.
const STEP: Duration = Duration::from_secs(10);

/// One message to submit.
#[derive(Debug, Clone)]
pub struct SendOpts {
    /// optgate (or any SMSC).
    pub target: SocketAddr,
    /// Bind system_id.
    pub system_id: String,
    /// Bind password.
    pub password: String,
    /// source_addr.
    pub from: String,
    /// destination_addr.
    pub to: String,
    /// The text: GSM 03.38 when it fits, else UCS-2; one part.
    pub text: String,
}

/// What the SMSC answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// submit_sm_resp command_status.
    pub status: u32,
    /// Its message_id (empty on errors).
    pub message_id: String,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == status::ESME_ROK {
            write!(f, "accepted: message_id {}", self.message_id)
        } else {
            // optgate's own codes ([status_codes], vendor range) by their
            // default meaning; a config may move them.
            let name = match self.status {
                0x400 => "opted_out",
                0x401 => "prevented",
                0x402 => "unassigned_sender",
                s => status::status_name(s),
            };
            write!(f, "refused: command_status {:#x} ({name})", self.status)
        }
    }
}

async fn step<T>(what: &str, f: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STEP, f)
        .await
        .map_err(|_| format!("{what}: no answer within {STEP:?}"))
}

async fn answer(
    conn: &mut Framed<TcpStream, SmppCodec>,
    what: &str,
    want: u32,
) -> Result<Pdu, String> {
    loop {
        let next = step(what, conn.next()).await?;
        match next {
            Some(Ok(Ok(p))) if p.command_id() == want => return Ok(p),
            // An enquire_link meanwhile gets its answer; other PDUs wait.
            Some(Ok(Ok(p))) if p.command_id() == cmd::ENQUIRE_LINK => {
                let resp = Pdu::new(p.sequence_number, Body::EnquireLinkResp);
                conn.send(&resp).await.map_err(|e| e.to_string())?;
            }
            Some(Ok(Ok(p))) if p.command_id() == cmd::GENERIC_NACK => {
                return Err(format!("{what}: generic_nack {:#x}", p.command_status))
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("{what}: {e}")),
            None => return Err(format!("{what}: connection closed")),
        }
    }
}

/// Binds, submits `opts.text`, unbinds; `Err` when the message never got
/// an answer (connection, bind or framing problems).
pub async fn send(opts: &SendOpts) -> Result<Sent, String> {
    let (data_coding, bytes) = match crate::text::gsm7::encode(&opts.text) {
        Some(b) if b.len() <= 160 => (0u8, b),
        Some(_) => return Err("at most 160 GSM characters in one message".into()),
        None => {
            use crate::text::coding::{encode_as, Alphabet};
            let b = encode_as(Alphabet::Ucs2, &opts.text).unwrap_or_default();
            if b.len() > 140 {
                return Err("at most 70 UCS-2 characters in one message".into());
            }
            (8, b)
        }
    };
    let stream = step("connect", TcpStream::connect(opts.target))
        .await?
        .map_err(|e| format!("connect to {}: {e}", opts.target))?;
    let mut conn = Framed::new(stream, SmppCodec::new(70_000));
    let bind = Bind {
        system_id: Text::from(opts.system_id.clone()),
        password: Text::from(opts.password.clone()),
        system_type: Text::new(),
        interface_version: 0x34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: Text::new(),
        tlvs: Default::default(),
    };
    let req = Pdu::new(1, Body::BindTransmitter(Box::new(bind)));
    conn.send(&req).await.map_err(|e| e.to_string())?;
    let r = answer(&mut conn, "bind", cmd::BIND_TRANSMITTER_RESP).await?;
    if r.command_status != status::ESME_ROK {
        return Err(format!(
            "bind refused: {:#x} ({})",
            r.command_status,
            status::status_name(r.command_status)
        ));
    }
    let sm = Sm {
        source_addr_ton: 1,
        source_addr_npi: 1,
        source_addr: Text::from(opts.from.clone()),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: Text::from(opts.to.clone()),
        data_coding,
        short_message: Bytes::from(bytes),
        ..Sm::default()
    };
    conn.send(&Pdu::new(2, Body::SubmitSm(Box::new(sm))))
        .await
        .map_err(|e| e.to_string())?;
    let r = answer(&mut conn, "submit", cmd::SUBMIT_SM_RESP).await?;
    let message_id = match &r.body {
        Body::SubmitSmResp(m) => m
            .message_id
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    // A polite goodbye; the answer is already in hand either way.
    if conn.send(&Pdu::new(3, Body::Unbind)).await.is_ok() {
        let _ = answer(&mut conn, "unbind", cmd::UNBIND_RESP).await;
    }
    Ok(Sent {
        status: r.command_status,
        message_id,
    })
}
