//! A reader that remembers when bytes last arrived.
//!
//! A PDU's receive time is the time its bytes came off the socket. Reading
//! the clock once per read instead of once per PDU costs one clock call per
//! batch (dozens of PDUs under load), and every PDU of a batch gets the same,
//! truthful time.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, ReadBuf};

/// `inner`, with the time of its last read that returned bytes.
#[derive(Debug)]
pub struct Stamped<R> {
    inner: R,
    last_read: Instant,
}

impl<R> Stamped<R> {
    /// Wraps `inner`; until the first read, the time is now.
    pub fn new(inner: R) -> Stamped<R> {
        Stamped {
            inner,
            last_read: Instant::now(),
        }
    }

    /// When the last read that returned bytes completed.
    pub fn last_read(&self) -> Instant {
        self.last_read
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Stamped<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.last_read = Instant::now();
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn stamps_reads_that_return_bytes() -> io::Result<()> {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = Stamped::new(rx);
        let created = r.last_read();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        tx.write_all(b"abc").await?;
        let mut buf = [0u8; 8];
        let n = r.read(&mut buf).await?;
        assert_eq!(n, 3);
        let first = r.last_read();
        assert!(first > created);
        // End of stream returns no bytes: the time stays.
        drop(tx);
        assert_eq!(r.read(&mut buf).await?, 0);
        assert_eq!(r.last_read(), first);
        Ok(())
    }
}
