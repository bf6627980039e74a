//! One SMPP link: the transport both connection loops (the platform
//! session in [`crate::server`] and the carrier bind in [`crate::upstream`])
//! stand on. It owns the framing (a framed reader stamped with when bytes
//! arrived, a framed writer), the sequence numbers optgate gives its own
//! requests, the last-read time, the enquire_link state, and the flush with
//! a deadline that ends every loop turn (see [`turn`]). What the PDUs mean
//! is the loops' business; how a link ended is an [`End`].

pub mod error;
pub mod stamped;
pub mod turn;

use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::timeout;
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

pub use error::End;

use crate::codec::{CodecError, SmppCodec};
use crate::pdu::{Body, Pdu};
use crate::telemetry::Side;
use crate::transport::{ReadHalf, Stream, WriteHalf};
use stamped::Stamped;

/// Room the writer buffers before a `feed` writes to the socket itself.
const WRITE_BOUNDARY: usize = 256 * 1024;

/// Read buffer of a link.
const READ_CAPACITY: usize = 64 * 1024;

/// One SMPP connection; `D` decodes what the peer sends (the carrier bind
/// decodes PDUs, the platform session also keeps each request's bytes).
pub struct Link<D> {
    side: Side,
    reader: FramedRead<Stamped<ReadHalf>, D>,
    writer: FramedWrite<WriteHalf, SmppCodec>,
    seq: SeqGen,
    last_rx: Instant,
    enquire_out: Option<Instant>,
}

impl<D: Decoder<Error = CodecError>> Link<D> {
    /// A link to `side` over `stream`, decoding with `decoder`, encoding up
    /// to `max_pdu_len`; optgate's own requests are numbered from `first_seq`.
    pub fn new(side: Side, stream: Stream, decoder: D, max_pdu_len: usize, first_seq: u32) -> Self {
        stream.set_nodelay();
        let (rd, wr) = stream.split();
        let mut writer = FramedWrite::new(wr, SmppCodec::new(max_pdu_len));
        writer.set_backpressure_boundary(WRITE_BOUNDARY);
        Link {
            side,
            reader: FramedRead::with_capacity(Stamped::new(rd), decoder, READ_CAPACITY),
            writer,
            seq: SeqGen::new(first_seq),
            last_rx: Instant::now(),
            enquire_out: None,
        }
    }

    /// Which side this link is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The next item from the peer; `Err` when the link can not go on
    /// (closed, framing lost). Updates the last-read time.
    pub async fn read(&mut self) -> Result<D::Item, End> {
        let item = self.reader.next().await;
        self.took(item)
    }

    /// Like [`Link::read`], but only what is buffered or readable without
    /// waiting; `None` when nothing is.
    pub fn read_now(&mut self) -> Option<Result<D::Item, End>> {
        let item = self.reader.next().now_or_never()?;
        Some(self.took(item))
    }

    fn took(&mut self, item: Option<Result<D::Item, CodecError>>) -> Result<D::Item, End> {
        match item {
            None => Err(End::PeerClosed(self.side)),
            Some(Err(source)) => Err(End::Framing {
                side: self.side,
                source,
            }),
            Some(Ok(item)) => {
                // When the bytes of this item came off the socket.
                self.last_rx = self.reader.get_ref().last_read();
                Ok(item)
            }
        }
    }

    /// When the peer's last bytes arrived (the receive time of the item
    /// just read).
    pub fn last_rx(&self) -> Instant {
        self.last_rx
    }

    /// The next sequence number for a request of optgate's own.
    pub fn next_seq(&mut self) -> u32 {
        self.seq.take()
    }

    /// Queues `item` (a `&Pdu`, or a received frame under a new sequence
    /// number): written at the next flush, or earlier when the buffer is
    /// large.
    pub async fn feed<I>(&mut self, item: I) -> Result<(), End>
    where
        SmppCodec: Encoder<I, Error = CodecError>,
    {
        let side = self.side;
        if self.writer.write_buffer().len() < WRITE_BOUNDARY {
            // Room below the boundary: what the sink's `feed` does then,
            // without a future to poll per PDU.
            let mut codec = *self.writer.encoder();
            return codec
                .encode(item, self.writer.write_buffer_mut())
                .map_err(|source| End::Write { side, source });
        }
        self.writer
            .feed(item)
            .await
            .map_err(|source| End::Write { side, source })
    }

    /// Writes everything fed so far, within `within`: a peer that stopped
    /// reading ends the link instead of pinning it.
    pub async fn flush(&mut self, within: Duration) -> Result<(), End> {
        let side = self.side;
        match timeout(within, SinkExt::<&Pdu>::flush(&mut self.writer)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(End::Write { side, source }),
            Err(_) => Err(End::Stalled {
                side,
                after: within,
            }),
        }
    }

    /// Feeds `pdu` and flushes within `within`.
    pub async fn send(&mut self, pdu: &Pdu, within: Duration) -> Result<(), End> {
        self.feed(pdu).await?;
        self.flush(within).await
    }

    /// Keep-alive, called from the loop's timer: an enquire_link queued
    /// when nothing was read for `interval`, [`End::KeepAlive`] when the
    /// last one is unanswered after `wait`.
    pub async fn keep_alive(
        &mut self,
        now: Instant,
        interval: Duration,
        wait: Duration,
    ) -> Result<(), End> {
        match self.enquire_out {
            Some(sent) if now.duration_since(sent) >= wait => Err(End::KeepAlive(self.side)),
            Some(_) => Ok(()),
            None if now.duration_since(self.last_rx) >= interval => {
                self.enquire_out = Some(now);
                let el = Pdu::new(self.next_seq(), Body::EnquireLink);
                self.feed(&el).await
            }
            None => Ok(()),
        }
    }

    /// The peer answered our enquire_link.
    pub fn enquire_answered(&mut self) {
        self.enquire_out = None;
    }
}

/// Sequence numbers 1..=0x7FFFFFFF, wrapping.
#[derive(Debug)]
pub struct SeqGen(u32);

impl SeqGen {
    /// Starts at `first` (clamped into the valid range).
    pub fn new(first: u32) -> SeqGen {
        SeqGen(first.clamp(1, 0x7FFF_FFFF))
    }

    /// The next number.
    pub fn take(&mut self) -> u32 {
        let v = self.0;
        self.0 = if v >= 0x7FFF_FFFF { 1 } else { v + 1 };
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_wraps_to_one() {
        let mut s = SeqGen::new(0x7FFF_FFFE);
        assert_eq!(s.take(), 0x7FFF_FFFE);
        assert_eq!(s.take(), 0x7FFF_FFFF);
        assert_eq!(s.take(), 1);
        assert_eq!(SeqGen::new(0).take(), 1);
    }
}
