//! Reading a request body: one reader for every route, with the route's cap and the
//! `limits.body_read_timeout` deadline.
//!
//! [`read_body`] refuses a declared `Content-Length` over the cap before reading a byte, cuts a
//! chunked body off as soon as it passes the cap, and maps what can go wrong to an
//! [`HttpError`]: too large (413), too slow (408), unreadable (400).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::CONTENT_LENGTH;
use tokio::time::Sleep;

use super::HttpError;

/// Reads a whole body of at most `cap` bytes (see the module doc).
pub async fn read_body<B>(headers: &HeaderMap, body: B, cap: usize) -> Result<Bytes, HttpError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(HttpError::BodyTooLarge(cap));
    }
    // A pixel's GET has no body: nothing to wait for, nothing to allocate.
    if declared == Some(0) || body.is_end_stream() {
        return Ok(Bytes::new());
    }
    match Limited::new(body, cap).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(HttpError::BodyTooLarge(cap)),
        Err(e) if e.is::<BodyTimeout>() => Err(HttpError::BodyTimeout),
        Err(_) => Err(HttpError::BodyUnreadable),
    }
}

/// The memory all large bodies being read or handled at once may take, in KiB.
const LARGE_BODY_BUDGET_KIB: usize = 16 * 1024;
/// Permits of [`LARGE_BODY_BUDGET_KIB`]: one per KiB of a large body.
static LARGE_BODIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(LARGE_BODY_BUDGET_KIB);

/// A large body's share of the memory budget, held until its request is answered.
#[must_use]
pub struct LargeBody(#[allow(dead_code)] tokio::sync::SemaphorePermit<'static>);

/// Reads a body of at most `cap` bytes, or, for a route that takes some, a *large* body of at
/// most `large_cap` whose `Content-Length` declares it: it takes its share of a process-wide
/// budget (16 MiB) first, and is refused as busy (503) when the budget is spent, so however many
/// connections send large bodies, they hold at most that much. Who may send one is the
/// handler's decision (Matomo bulk: only with a site's token).
pub async fn read_large_body<B>(
    headers: &HeaderMap,
    body: B,
    cap: usize,
    large_cap: usize,
) -> Result<(Bytes, Option<LargeBody>), HttpError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let Some(declared) = declared.filter(|n| *n > cap as u64 && large_cap > cap) else {
        return Ok((read_body(headers, body, cap).await?, None));
    };
    if declared > large_cap as u64 {
        return Err(HttpError::BodyTooLarge(large_cap));
    }
    let kib = (declared as usize).div_ceil(1024) as u32;
    let permit = LARGE_BODIES.try_acquire_many(kib).map_err(|_| HttpError::LargeBodiesBusy)?;
    Ok((read_body(headers, body, declared as usize).await?, Some(LargeBody(permit))))
}

/// The request body did not arrive within `limits.body_read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within limits.body_read_timeout")]
pub struct BodyTimeout;

/// A request body with a deadline (see the module doc). The timer is only created when the
/// body is not already there: the usual small body costs nothing.
pub struct DeadlineBody<B> {
    inner: B,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    pub fn new(inner: B, limit: Duration) -> DeadlineBody<B> {
        DeadlineBody { inner, limit, timer: None }
    }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let limit = this.limit;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::header::HeaderValue;

    /// A body that sends half of itself, then nothing.
    struct Stalling(bool);

    impl Body for Stalling {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Pending
            } else {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"half")))))
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_times_out() {
        use http_body_util::BodyExt;
        let body = DeadlineBody::new(Stalling(false), Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        let Err(error) = body.collect().await else { panic!("the deadline passes") };
        assert!(error.is::<BodyTimeout>());
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn the_cap_is_checked_before_and_while_reading() {
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, HeaderValue::from_static("100000"));
        // Declared over the cap: refused without polling the body (it would stall forever).
        assert_eq!(
            read_body(&declared, Stalling(true), 1024).await,
            Err(HttpError::BodyTooLarge(1024)),
            "refused before reading"
        );
        let big = Full::new(Bytes::from(vec![b'a'; 2000]));
        assert_eq!(read_body(&HeaderMap::new(), big, 1024).await, Err(HttpError::BodyTooLarge(1024)));
        let small = Full::new(Bytes::from_static(b"idsite=1"));
        assert_eq!(read_body(&HeaderMap::new(), small, 1024).await, Ok(Bytes::from_static(b"idsite=1")));
        let stalled = DeadlineBody::new(Stalling(false), Duration::from_millis(10));
        assert_eq!(read_body(&HeaderMap::new(), stalled, 1024).await, Err(HttpError::BodyTimeout));
    }

    #[tokio::test]
    async fn large_bodies_share_one_budget() {
        let length = |n: usize| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
            headers
        };
        let body = |n: usize| Full::new(Bytes::from(vec![b'a'; n]));
        // Small bodies take no share; an undeclared length keeps the small cap.
        let (small, permit) = read_large_body(&length(10), body(10), 1024, 1 << 20).await.unwrap();
        assert_eq!((small.len(), permit.is_none()), (10, true));
        assert_eq!(
            read_large_body(&HeaderMap::new(), body(4096), 1024, 1 << 20).await.err(),
            Some(HttpError::BodyTooLarge(1024))
        );
        assert_eq!(
            read_large_body(&length(2 << 20), body(10), 1024, 1 << 20).await.err(),
            Some(HttpError::BodyTooLarge(1 << 20))
        );
        // 16 bodies of 1 MiB held at once spend the budget: the next one is refused as busy.
        let mut held = Vec::new();
        for _ in 0..LARGE_BODY_BUDGET_KIB / 1024 {
            let (large, permit) = read_large_body(&length(1 << 20), body(1 << 20), 1024, 1 << 20).await.unwrap();
            assert_eq!(large.len(), 1 << 20);
            held.push(permit.expect("a share of the budget"));
        }
        assert_eq!(
            read_large_body(&length(4096), body(4096), 1024, 1 << 20).await.err(),
            Some(HttpError::LargeBodiesBusy)
        );
        held.pop();
        assert!(read_large_body(&length(4096), body(4096), 1024, 1 << 20).await.is_ok(), "a share came back");
    }
}
