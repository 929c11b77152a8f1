//! The body type the proxy sends in both directions, and the capped read of a request body that
//! is to be inspected.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::inspect::Inspect;

/// One concrete body for everything the proxy sends: a buffered request body, a streamed one
/// (request or response), a buffered prefix followed by the rest of a stream (a body that turned
/// out too large to inspect while it was being read), or a short message of the proxy's own.
/// An enum rather than a boxed trait object: no allocation per request and `size_hint` stays
/// exact, which lets hyper keep `Content-Length` framing instead of switching to chunked.
#[derive(Debug)]
pub(crate) enum ProxyBody {
    /// Bytes held in memory; `None` once sent (or when empty).
    Full(Option<Bytes>),
    /// Frames passed on as they arrive.
    Stream(Incoming),
    /// What was read before giving up on buffering, then the rest of the stream.
    Prefixed(Option<Bytes>, Incoming),
    /// A response streamed on while an inspector sees every piece of it.
    Tapped(Incoming, Tap),
}

/// An inspector's view of one response body: each piece, then its end, said once.
pub(crate) struct Tap {
    inspector: Arc<dyn Inspect>,
    seq: u64,
    ended: bool,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Tap {
    pub(crate) fn new(inspector: Arc<dyn Inspect>, seq: u64) -> Tap {
        Tap {
            inspector,
            seq,
            ended: false,
        }
    }

    fn data(&self, data: &[u8]) {
        // A bug in an inspector must not take the response down with it.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            self.inspector.response_data(self.seq, data)
        }));
    }

    fn end(&mut self, whole: bool) {
        if !std::mem::replace(&mut self.ended, true) {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                self.inspector.response_end(self.seq, whole)
            }));
        }
    }
}

impl Drop for Tap {
    /// A body dropped before its end (the client went away) ended cut off.
    fn drop(&mut self) {
        self.end(false);
    }
}

impl ProxyBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ProxyBody::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        // `Incoming` is `Unpin`, so the enum is too and no pin projection is needed.
        match self.get_mut() {
            ProxyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Stream(inner) => Pin::new(inner).poll_frame(cx),
            ProxyBody::Prefixed(prefix, inner) => match prefix.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Pin::new(inner).poll_frame(cx),
            },
            ProxyBody::Tapped(inner, tap) => {
                let polled = Pin::new(&mut *inner).poll_frame(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            tap.data(data);
                        }
                        // hyper stops polling a body whose length it knows once it has it all.
                        if inner.is_end_stream() {
                            tap.end(true);
                        }
                    }
                    Poll::Ready(Some(Err(_))) => tap.end(false),
                    Poll::Ready(None) => tap.end(true),
                    Poll::Pending => {}
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(bytes) => bytes.is_none(),
            ProxyBody::Stream(inner) | ProxyBody::Tapped(inner, _) => inner.is_end_stream(),
            ProxyBody::Prefixed(prefix, inner) => prefix.is_none() && inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len()) as u64)
            }
            ProxyBody::Stream(inner) | ProxyBody::Tapped(inner, _) => inner.size_hint(),
            ProxyBody::Prefixed(prefix, inner) => {
                let extra = prefix.as_ref().map_or(0, |b| b.len()) as u64;
                let rest = inner.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + extra);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + extra);
                }
                hint
            }
        }
    }
}

/// The result of trying to read a whole request body.
#[derive(Debug)]
pub(crate) enum Read {
    /// The whole body, at most the cap.
    Complete(Bytes),
    /// Over the cap: what to forward instead (what was read, then the rest, streamed).
    TooLarge(ProxyBody),
    /// The client's body failed (it disconnected or sent a malformed chunk).
    Failed(hyper::Error),
}

/// Reads `body` into memory unless it is over `cap` bytes. A `Content-Length` over the cap is
/// known before reading anything, and then nothing is buffered; a chunked body is found to be
/// too large only once `cap` bytes have arrived, and what was read is kept to be sent first.
pub(crate) async fn read_capped(mut body: Incoming, cap: usize) -> Read {
    let hint = body.size_hint();
    if hint.lower() > cap as u64 {
        return Read::TooLarge(ProxyBody::Stream(body));
    }
    // One frame (the usual case for a small JSON body) is kept as it is, without a copy; later
    // frames are appended to a buffer sized from Content-Length when there is one.
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                // Request trailers: hyper only delivers them for chunked bodies and OpenAI clients
                // never send them; dropping them keeps the buffered body a plain byte string.
                Err(_trailers) => continue,
            },
            Err(e) => return Read::Failed(e),
        };
        total += data.len();
        if first.is_none() && buf.is_empty() {
            first = Some(data);
        } else {
            if let Some(first) = first.take() {
                buf.reserve(
                    (hint.lower() as usize)
                        .max(total)
                        .min(cap.saturating_add(1)),
                );
                buf.extend_from_slice(&first);
            }
            buf.extend_from_slice(&data);
        }
        if total > cap {
            let read = first.unwrap_or_else(|| buf.freeze());
            return Read::TooLarge(ProxyBody::Prefixed(Some(read), body));
        }
    }
    Read::Complete(first.unwrap_or_else(|| buf.freeze()))
}
